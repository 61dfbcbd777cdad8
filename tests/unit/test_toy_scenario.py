"""A new scenario is one module plus one adapter per platform family: a toy scenario defined only in this test (a
module's worth of code: settings, expectation, sample, metric, parser, figure; and a netns adapter) gets a spec
section, a plan and a netns render, a ``cnibench parse`` path, a report section and ``reanalyze`` support, with no
other file of cnibench touched. Its tool is real: ``getconf _NPROCESSORS_ONLN`` (the machine's online CPUs)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cnibench.errors import MeasurementError
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios.base import ClusterBuild, NetnsAdapter
from cnibench.repetition import Expectation, MeasureCommand, Repetition
from cnibench.report.figure import Plot
from cnibench.results.group import Group
from cnibench.results.metric import MetricInfo
from cnibench.results.model import RESULTS_FILE, RunResults, read_results, write_results
from cnibench.results.sample import SampleBase
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios.base import ParseOptions, Scenario, Trial
from cnibench.spec.model import ScenarioSettings

TOOL = ("getconf", "_NPROCESSORS_ONLN")


class ToySettings(ScenarioSettings):
    """The toy's section: only the defaults every scenario has."""


class ToyExpectation(Expectation):
    """At least ``minimum`` CPUs must be online."""

    minimum: int = 1


class ToySample(SampleBase):
    cpus: int | None = None


class Toy(Scenario[ToySettings, ToyExpectation]):
    name: ClassVar[str] = "toy"
    trials: ClassVar[tuple[str, ...]] = ("toy",)
    settings_model = ToySettings
    sample_model = ToySample
    expectation_model = ToyExpectation
    description: ClassVar[str] = "the online CPUs (a test's toy)"
    metrics: ClassVar[tuple[MetricInfo, ...]] = (MetricInfo("cpus", "online CPUs", "", 1.0, "higher", 0, primary=True),)
    parse_tool: ClassVar[str | None] = "getconf"

    def trials_for(self, settings: ToySettings, cni: str) -> list[Trial]:
        return [Trial(cni, "toy", settings.repetitions, 0.1, "getconf", "getconf _NPROCESSORS_ONLN")]

    def expected_fields(self, expect: ToyExpectation) -> dict[str, Any]:
        return {}

    def sample_from(self, text: str, expect: ToyExpectation, fields: dict[str, Any], failure: str | None) -> ToySample:
        if not text.strip().isdigit():
            raise MeasurementError(f"not a number of CPUs: {text.strip()[:40]!r}")
        cpus = int(text)
        error = failure or (f"{cpus} CPUs online, fewer than {expect.minimum}" if cpus < expect.minimum else None)
        return ToySample(**fields, status="failed" if error else "ok", error=error, cpus=cpus)

    def recorded_expectation(self, sample: SampleBase, settings: dict[str, Any], artifact: Path) -> ToyExpectation:
        return ToyExpectation()

    def parse_expectation(self, path: Path, options: ParseOptions) -> ToyExpectation:
        return ToyExpectation()

    def report_plots(self, groups: Sequence[Group]) -> list[Plot]:
        from cnibench.report import plots

        plot = plots.per_series(groups, "cpus", self.trials, "Online CPUs per CNI")
        return [plot] if plot is not None else []


class ToyOnNetns(NetnsAdapter[ToySettings]):
    scenario: ClassVar[str] = "toy"

    def pods(self, settings: ToySettings, workers: list[str], gateway: str) -> list[tuple[str, str]]:
        return [("toy-pod", workers[0])]

    def compile(self, settings: ToySettings, cluster: ClusterBuild, numbers: Mapping[str, range]) -> list[Repetition]:
        pod = cluster.topo.pod("toy-pod")
        reps = [
            Repetition(cluster.cni, "toy", n, cluster.run_dir / "raw" / cluster.cni / "toy" / f"rep-{n:02d}.txt",
                       MeasureCommand(TOOL, cluster.run_dir / "raw" / cluster.cni / "toy" / f"rep-{n:02d}.txt", 10.0,
                                      netns=pod.netns), expect=ToyExpectation())
            for n in numbers["toy"]
        ]  # fmt: skip
        return cluster.add_scenario("toy", cluster.finish(reps), bundles=[], daemons=[])


@pytest.fixture
def toy() -> Iterator[Toy]:
    """The toy registered like a module of ``scenarios/`` and ``platforms/netns/scenarios/`` would register itself,
    and unregistered after the test (the registries are process-wide)."""
    from cnibench.spec.registered import spec_model

    scenario = SCENARIOS.register("toy", Toy())
    ADAPTERS.register("toy", ToyOnNetns())
    spec_model.cache_clear()
    yield scenario
    del SCENARIOS._parts["toy"], ADAPTERS._parts["toy"]
    spec_model.cache_clear()


def _real_output(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(subprocess.run(TOOL, capture_output=True, text=True, check=True).stdout)
    return path


def test_the_toy_gets_a_spec_section_a_plan_and_a_netns_render(toy, tmp_path):
    from cnibench.commands.plan import render

    spec = tmp_path / "toy.yaml"
    spec.write_text("name: toy\ncnis: [hostgw, vxlan]\nrounds: 1\nscenarios:\n  toy: {repetitions: 2}\n")
    assert render(spec, tmp_path / "out") == 0
    runs = json.loads((tmp_path / "out" / "vars.json").read_text())
    text = json.dumps(runs)
    assert "_NPROCESSORS_ONLN" in text and text.count("rep-01.txt") == 2  # both CNIs' first repetition


def test_the_toy_gets_a_parse_path(toy, tmp_path):
    from cnibench.reanalysis import parse_artifact

    answer = parse_artifact("getconf", _real_output(tmp_path / "cpus.txt"))
    assert answer["status"] == "ok" and answer["cpus"] >= 1
    (tmp_path / "bad.txt").write_text("getconf: Unrecognized variable\n")
    assert parse_artifact("getconf", tmp_path / "bad.txt")["status"] == "failed"


def test_the_toy_gets_a_report_section_and_reanalyze(toy, tmp_path):
    from cnibench.reanalysis import reanalyze
    from cnibench.report import document

    run_dir = tmp_path / "results" / "20261207-000000-toy"
    samples = []
    for cni in ("hostgw", "vxlan"):
        for rnd in (1, 2):
            artifact = Path("raw") / cni / "toy" / f"rep-{rnd:02d}.txt"
            _real_output(run_dir / artifact)
            samples.append({"cni": cni, "scenario": "toy", "repetition": rnd, "round": rnd, "status": "ok",
                            "artifact": str(artifact), "cpus": 0})  # fmt: skip  # reanalyze must put the real count
    run = RunResults.model_validate(
        {"run_id": run_dir.name, "name": "toy", "platform": "netns", "status": "complete", "started_at": 1.0,
         "cnibench_version": "test", "spec": {"cnis": ["hostgw", "vxlan"]}, "environment": {}, "samples": samples}
    )  # fmt: skip
    assert all(isinstance(s, ToySample) for s in run.samples)  # the results model knows the new scenario
    write_results(run_dir / RESULTS_FILE, run)
    done = reanalyze(read_results(run_dir), run_dir, tmp_path / "again")
    cpus = int(subprocess.run(TOOL, capture_output=True, text=True, check=True).stdout)
    assert [s.cpus for s in done.results.samples] == [cpus] * 4  # type: ignore[attr-defined]
    assert any("cpus 0 -> " in line for line in done.changes) or cpus == 0
    page = document.build([done.results], [done.run_dir]).html
    assert 'alt="Online CPUs per CNI"' in page  # the toy's own figure, in the report

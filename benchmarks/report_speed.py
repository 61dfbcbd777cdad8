"""A report over 1,000 samples renders in under 3 s (exact statistics: order-statistic intervals, Mann-Whitney, Moses;
all plots, HTML, Markdown).

The samples are real ones from tests/data (a netns egress run and an ingress run) repeated with a seeded +-5 %
jitter until there are 1,000, so the report has the shape of a long real run.

    .venv/bin/python benchmarks/report_speed.py [--samples 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from _common import describe, save

from cnibench.results.model import RunResults, read_results
from cnibench.scenarios import all_metrics

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "results"


def synthetic_run(total: int) -> RunResults:
    egress = read_results(DATA / "netns-hostgw-vxlan.json")
    ingress = read_results(DATA / "netns-ingress-l7.json")
    templates = list(egress.samples) + list(ingress.samples)
    rng = random.Random(7)
    samples = []
    reps: dict[tuple[str, str], int] = {}
    while len(samples) < total:
        template = templates[len(samples) % len(templates)]
        key = (template.cni, template.scenario)
        reps[key] = reps.get(key, 0) + 1
        update = {"repetition": reps[key]}
        for metric in all_metrics():
            value = getattr(template, metric.name, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                update[metric.name] = type(value)(value * rng.uniform(0.95, 1.05))
        samples.append(template.model_copy(update=update))
    return egress.model_copy(update={"samples": samples, "planned_repetitions": len(samples)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    run = synthetic_run(args.samples)
    t0 = time.perf_counter()
    from cnibench.report import document, plots  # noqa: F401 - import cost (matplotlib) is part of a report

    import_s = time.perf_counter() - t0
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        report = document.build([run], [None])
        times.append(time.perf_counter() - start)
    first = import_s + times[0]
    print(
        f"{len(run.samples)} samples: first report {first:.2f} s (including {import_s:.2f} s of imports), then "
        f"median {statistics.median(times[1:] or times):.2f} s over {args.rounds - 1} more; "
        f"HTML {len(report.html) / 1e6:.1f} MB (target < 3 s)"
    )
    print(
        "saved",
        save(
            "report_speed",
            {"samples": len(run.samples), "import_s": import_s, "first_s": first, "build_s": describe(times)},
        ),
    )


if __name__ == "__main__":
    main()

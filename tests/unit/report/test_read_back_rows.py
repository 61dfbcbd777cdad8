"""The report shows a variant's configuration read back from its agents (environment.json effective_config) and
warns about what was wrong with it (effective_warnings), on a real run's record with a Kubernetes variant's facts
added (the run itself is netns: only the environment's clusters section is edited)."""

from __future__ import annotations

from cnibench.report.context import _env_rows
from cnibench.results.model import read_results
from cnibench.results.trust import warnings_for

PROBLEM = "encryption wireguard requested but not active on 1 of 3 nodes (w2: Encryption: Disabled)"


def test_read_back_encryption_is_a_row_and_its_problem_a_warning(data_dir):
    run = read_results(data_dir / "results" / "netns-pool-a.json")
    facts = {"effective_config": {"encryption": "wireguard on 2 of 3 nodes, none on 1 of 3 nodes"},
             "effective_warnings": [PROBLEM]}  # fmt: skip
    run = run.model_copy(update={"environment": {**run.environment, "clusters": {"cilium-wg": facts}}})
    rows = dict(_env_rows([run]))
    assert rows["cilium-wg: read back"] == ["encryption wireguard on 2 of 3 nodes, none on 1 of 3 nodes"]
    texts = [(w.cni, w.text) for w in warnings_for(run)]
    assert ("cilium-wg", f"datapath configuration: {PROBLEM}") in texts

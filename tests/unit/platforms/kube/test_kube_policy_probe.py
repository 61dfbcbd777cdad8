"""The network-policy probe's deciding parts: what ``nc -z -v`` said (real captured outputs in tests/data/nc), which
probes are not yet as the policy says, and the wait over rounds of probes. No cluster runs here."""

from __future__ import annotations

import pytest

from cnibench.errors import PlatformError
from cnibench.platforms.kube import policy_probe as pp
from cnibench.platforms.kube.kubectl import Kubectl


def _out(data_dir, name: str) -> str:
    return (data_dir / "nc" / name).read_text()


def test_nc_says_connected_refused_or_timed_out(data_dir):
    assert pp.nc_outcome(_out(data_dir, "succeeded.txt"), 0) == "connected"
    assert pp.nc_outcome(_out(data_dir, "refused.txt"), 1) == "refused"
    assert pp.nc_outcome(_out(data_dir, "timed-out.txt"), 1) == "timed-out"


@pytest.mark.parametrize("name", ["kubectl-no-cluster.txt", "unresolvable.txt"])
def test_a_probe_that_did_not_run_is_never_taken_for_a_denial(data_dir, name):
    with pytest.raises(PlatformError, match=r"^the probe did not run \(exit 1\): "):
        pp.nc_outcome(_out(data_dir, name), 1)
    with pytest.raises(PlatformError, match="no output"):
        pp.nc_outcome("", 1)


def test_the_probe_is_nc_in_the_pod():
    argv = pp.nc_argv(Kubectl("/k", None, "cnibench"), "np-denied", "10.244.1.5", 5201)
    assert argv == ["kubectl", "--kubeconfig", "/k", "--namespace", "cnibench", "exec", "np-denied", "--",
                    "nc", "-z", "-v", "-w", "2", "10.244.1.5", "5201"]  # fmt: skip


CLIENT = pp.Probe("np-client-cross", 5201, allowed=True)
DENIED = pp.Probe("np-denied", 5201, allowed=False)


def test_wrong_names_each_probe_not_as_the_policy_says():
    assert pp.wrong({CLIENT: "connected", DENIED: "timed-out"}) == []
    assert pp.wrong({CLIENT: "timed-out", DENIED: "connected"}) == [
        "np-client-cross -> :5201 is timed-out (it must connect)",
        "np-denied -> :5201 is connected (it must be dropped: time out)",
    ]
    assert pp.wrong({CLIENT: "refused", DENIED: "refused"}) == [
        "np-client-cross -> :5201 is refused (it must connect)",
        "np-denied -> :5201 is refused (it must be dropped: time out)",
    ]


def test_the_wait_ends_when_every_probe_is_as_it_must_be():
    rounds = iter(
        [
            {CLIENT: "connected", DENIED: "connected"},
            {CLIENT: "timed-out", DENIED: "timed-out"},
            {CLIENT: "connected", DENIED: "timed-out"},
        ]
    )
    current: dict[pp.Probe, pp.Outcome] = {}

    def connect(probe: pp.Probe) -> pp.Outcome:
        nonlocal current
        if probe == CLIENT:
            current = next(rounds)
        return current[probe]

    assert pp.wait_enforced([CLIENT, DENIED], connect, timeout=10, what="x") < 10
    with pytest.raises(StopIteration):
        next(rounds)  # all three rounds were needed


def test_the_wait_fails_at_its_deadline_naming_what_is_still_wrong():
    with pytest.raises(PlatformError) as caught:
        pp.wait_enforced([CLIENT, DENIED], lambda p: "connected", timeout=0.2, what="not enforced")
    assert (
        str(caught.value) == "not enforced after 0.2 s: np-denied -> :5201 is connected (it must be dropped: time out)"
    )

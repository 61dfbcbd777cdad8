"""Spec -> plan: the matrix of trials (cni x scenario x repetition) in run order, and an estimate of its time."""

from __future__ import annotations

from dataclasses import dataclass

from cnibench.errors import SpecError
from cnibench.estimate import Estimate, Priors
from cnibench.scenarios import egress, ingress
from cnibench.spec import Spec
from cnibench.tools import iperf3, k6

#: Measured orchestration cost around one repetition (an Ansible task plus parsing), used for estimates.
OVERHEAD_PER_REPETITION_S = 0.6
#: Building a cluster, starting its servers and tearing it down, per CNI.
OVERHEAD_PER_CLUSTER_S = 3.0
#: Of that, the teardown after a cluster's last repetition (measured: 1.8 s with node metrics, 2 CPUs).
TEARDOWN_S = 1.5
#: Removing one trial's objects and applying the next one's (measured: 0.9 s before egress, 4.0 s before ingress
#: with its proxy and three backends).
TRIAL_SETUP_S = 1.5
#: node_exporters + Prometheus until every target is up (Prometheus 2.42 throttles its first scrapes by ~5 s).
METRICS_STARTUP_S = 6.0
#: Waiting for the scrape after a repetition and querying its window.
METRICS_PER_REPETITION_S = 0.7
#: Kubernetes, per CNI: kind cluster, CNI, MetalLB, Gateway, monitoring and teardown (most of it image pulls on a
#: first run); on an existing cluster only cnibench's own objects. Rough figures for the estimate, not measured here.
KUBE_CLUSTER_S = {"kind": 420.0, "kubeconfig": 150.0, "aks": 1500.0}  # AKS: create and destroy take minutes each
#: Of that, the teardown (kind: delete the cluster; kubeconfig: delete cnibench's objects; AKS: terraform destroy).
KUBE_TEARDOWN_S = {"kind": 30.0, "kubeconfig": 30.0, "aks": 600.0}
#: Per repetition on Kubernetes: kubectl exec or k6 start-up, and a port-forward to Prometheus.
KUBE_PER_REPETITION_S = 3.0
#: Between two trials on Kubernetes: an egress policy applied and seen at the server, or a gateway programmed.
KUBE_TRIAL_SETUP_S = 20.0
#: cnibench's own work around the playbook: checks and rendering before, results and report after.
OWN_OVERHEAD_S = 2.0


@dataclass(frozen=True)
class Trial:
    cni: str
    scenario: str
    repetitions: int
    seconds_each: float  # the tool's own wall time per repetition
    tool: str
    settings: str  # a short human description


@dataclass(frozen=True)
class _Slot:
    cni: str
    scenario: str
    repetition: int
    expected_seconds: float


@dataclass(frozen=True)
class Plan:
    spec: Spec
    trials: tuple[Trial, ...]

    @property
    def repetitions(self) -> int:
        return sum(t.repetitions for t in self.trials)

    @property
    def priors(self) -> Priors:
        """What a run's time estimate assumes until the run has measured it (seconds)."""
        metrics = self.spec.metrics.enabled
        per_rep = OVERHEAD_PER_REPETITION_S + (METRICS_PER_REPETITION_S if metrics else 0.0)
        per_cluster = OVERHEAD_PER_CLUSTER_S + (METRICS_STARTUP_S if metrics else 0.0)
        teardown, trial = TEARDOWN_S, TRIAL_SETUP_S
        if self.spec.on_kubernetes:
            per_rep += KUBE_PER_REPETITION_S
            per_cluster = KUBE_CLUSTER_S[self.spec.platform]
            teardown, trial = KUBE_TEARDOWN_S[self.spec.platform], KUBE_TRIAL_SETUP_S
        return Priors(
            repetition_overhead_s=per_rep,
            setup_s=per_cluster - teardown,
            trial_s=trial,
            teardown_s=teardown,
        )

    @property
    def estimated_seconds(self) -> float:
        """The whole run, from the same model a running run re-bases on what it measures (:mod:`estimate`)."""
        slots = [
            _Slot(t.cni, t.scenario, rep, t.seconds_each) for t in self.trials for rep in range(1, t.repetitions + 1)
        ]
        return Estimate(slots, self.priors, 0.0).seconds_left(0.0) + OWN_OVERHEAD_S


def make_plan(spec: Spec, only: list[str] | None = None) -> Plan:
    """The trials of a run, in run order; ``only`` keeps some scenarios (``egress`` covers its baseline)."""
    enabled = spec.scenarios.enabled()
    for name in only or []:
        if name not in enabled:
            raise SpecError(f"--only: scenario {name!r} is not in the spec (it has: {', '.join(enabled)})")
    trials: list[Trial] = []
    for cni in spec.cnis:
        eg = spec.scenarios.egress
        if eg is not None and (not only or egress.NAME in only):
            wall = iperf3.expected_wall_time(eg.duration, eg.omit)
            settings = f"{eg.protocol}, {eg.parallel} stream(s), {eg.duration} s + {eg.omit} s warm-up"
            if eg.protocol == "udp":
                settings += f", {eg.bitrate}bit/s"
            for scenario in egress.TRIALS:
                trials.append(Trial(cni, scenario, eg.repetitions, wall, "iperf3", settings))
        ing = spec.scenarios.ingress
        if ing is not None and (not only or ingress.NAME in only):
            settings = f"{ing.gateway} gateway, {ing.backends} backends, {ing.vus} VUs, {ing.duration} s" + (
                "" if ing.reuse_connections else ", no connection reuse"
            )
            trials.append(Trial(cni, ingress.NAME, ing.repetitions, ing.duration + k6.STARTUP_S, "k6", settings))
    return Plan(spec=spec, trials=tuple(trials))


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"

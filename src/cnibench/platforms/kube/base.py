"""What the Kubernetes platforms (``kind``, ``kubeconfig``, ``aks``) share: the spec's checks through the CNI
descriptors and the scenario adapters, the compile loop (one cluster per CNI: created, CNI installed, namespace,
monitoring, the scenarios' steps, the end), the run's bookkeeping, cleanup and leftovers. What differs is a hook a
platform class overrides (how a cluster comes to be and goes away, its load balancer, the external server, ...).
Compiling renders every file a run applies and the playbook's variables; nothing here touches a cluster.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.datapath_config import CONFIG_KEY, WARNINGS_KEY
from cnibench.doctor import unique
from cnibench.errors import PlatformError
from cnibench.estimate import Priors
from cnibench.knobs import Knob, chart_values
from cnibench.plan import repetition_overhead_s
from cnibench.platforms.base import Compiled, Leftover, Platform, Renderable
from cnibench.platforms.files import Files
from cnibench.platforms.kube import monitoring, render, runs
from cnibench.platforms.kube.build import ClusterBuild, KubeHost, NodeAddresses
from cnibench.platforms.kube.cnis import CNIS, spec_cni
from cnibench.platforms.kube.cnis.base import Capability, Cni
from cnibench.platforms.kube.encryption import encryption_check, encryption_steps
from cnibench.platforms.kube.prerequisites import common_checks
from cnibench.platforms.kube.runs import kube_state_dir
from cnibench.platforms.kube.scenarios import ADAPTERS
from cnibench.platforms.kube.scenarios.base import KubeAdapter
from cnibench.platforms.kube.settings import KubernetesSettings, KubernetesSettingsBase, kube_settings
from cnibench.proc import CommandError
from cnibench.scenarios import SCENARIOS
from cnibench.spec.base import FieldError, collect_errors

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.plan import Plan
    from cnibench.repetition import Repetition
    from cnibench.spec.model import Spec

PLAYBOOK = "kube.yml"
#: Per repetition on Kubernetes: kubectl exec or k6 start-up, and a port-forward to Prometheus.
KUBE_PER_REPETITION_S = 3.0
#: Between two trials on Kubernetes: an egress policy applied and seen at the server, or a gateway programmed.
KUBE_TRIAL_SETUP_S = 20.0


def cluster_name(prefix: str, cni: str) -> str:
    return f"{prefix}-{cni}"


def adapter(scenario: str) -> KubeAdapter[Any]:
    return ADAPTERS.get(scenario)


def variant_facts(cni: Cni, platform: str) -> dict[str, Any]:
    """What a variant's run records of its configuration (:mod:`cnibench.datapath_config`): the CNI it is, its
    settings in effect, the kube-proxy mode and the chart values its settings applied, and the problems known before
    it is installed. Nothing for a plain CNI (its record stays as it was)."""
    if not cni.settings:
        return {}
    return {
        CONFIG_KEY: {
            "cni": cni.base,
            "settings": cni.effective_settings,
            "kube_proxy": f"replaced by {cni.title}" if cni.kube_proxy_replacement else "kube-proxy",
            "chart_values": chart_values(cni.knobs, cni.settings),
        },
        WARNINGS_KEY: cni.problems(),
    }


def check_capabilities(cnis: Sequence[Cni], scenario: str, needs: tuple[Capability, ...]) -> None:
    """Every CNI of the spec (``cnis``, in the spec's order) has what the scenario ``needs``; raises FieldError
    ``cnis[i]`` naming the first CNI that lacks one, the capability and why (its descriptor's :attr:`~Cni.lacks`)."""
    for index, cni in enumerate(cnis):
        name = cni.name
        for capability in needs:
            if capability not in cni.capabilities:
                why = cni.lacks.get(capability)
                raise FieldError(
                    ("cnis", index),
                    f"{name} has no {capability.words} (capability {capability.value}"
                    + (f": {why}" if why else "")
                    + f"), which the {scenario} scenario needs: leave {name} out, or run only the other scenarios",
                )


class KubePlatform(Platform, KubeHost):
    """A Kubernetes platform; ``keep`` leaves what the run created (a cluster, cnibench's namespace) in place. What
    the scenario adapters may ask of it (its facts and hooks) is :class:`~cnibench.platforms.kube.build.KubeHost`'s."""

    family: ClassVar[str] = "kube"
    sections: ClassVar[dict[str, type[Any]]] = {"kubernetes": KubernetesSettings}
    #: Rough seconds per CNI for the estimate, not measured here: the cluster from its start to its first repetition
    #: and its end (most of it image pulls on a first run), and of that, the end alone.
    cluster_s: ClassVar[float]
    teardown_s: ClassVar[float]
    #: Tools recorded with the run besides kubectl and Helm: name -> the argv that prints its version.
    recorded_tools: ClassVar[dict[str, list[str]]] = {}
    #: What ``clean`` removes of a run of this platform, in words.
    leftover_what: ClassVar[str]

    # ---- the spec -------------------------------------------------------------------------------------------------
    @classmethod
    def cnis(cls) -> tuple[str, ...]:
        return CNIS.names()

    @classmethod
    def knobs(cls, cni: str) -> tuple[Knob, ...]:
        return CNIS.get(cni).knobs

    @classmethod
    def forbidden(cls, cni: str, settings: Mapping[str, Any]) -> None:
        CNIS.get(cni).forbidden(settings, cls.name)

    @classmethod
    def configuration_warnings(cls, spec: Spec) -> list[str]:
        """Each variant's configuration problems known before anything is installed (:meth:`Cni.problems`)."""
        return [f"{name}: {line}" for name in spec.cni_names for line in spec_cni(spec, name).problems()]

    @classmethod
    def resolve(cls, spec: Spec) -> Spec:
        """The platform's defaults (:meth:`resolve_platform`), then the scenarios' addresses it picks."""
        spec = cls.resolve_platform(super().resolve(spec))
        addresses = cls.node_addresses(spec)
        updates = {
            name: adapter(name).resolve(spec.scenarios.get(name), addresses)
            for name in spec.scenarios.enabled()
            if name in ADAPTERS
        }
        return spec.model_copy(update={"scenarios": spec.scenarios.model_copy(update=updates)})

    @classmethod
    def check(cls, spec: Spec) -> None:
        """The platform's own checks, then whether it can install each CNI, then each scenario's (which claim their
        addresses on the platform's node network, checked last)."""
        super().check(spec)
        cls.check_platform(spec)
        kube = kube_settings(spec)
        for index, name in enumerate(spec.cni_names):
            if cls.cni_values(spec_cni(spec, name), kube, spec, cluster="check", cni_gateway=False) is None:
                raise FieldError(("cnis", index), f"cnibench cannot install {name} on {cls.name} (no values for it)")
        addresses = cls.node_addresses(spec)
        for name in spec.scenarios.enabled():
            if name not in ADAPTERS:
                raise FieldError(("scenarios", name), f"not on {cls.name}: no adapter deploys it there")

        def scenario_checks(name: str) -> None:
            check_capabilities([spec_cni(spec, c) for c in spec.cni_names], name, adapter(name).needs)
            adapter(name).check(spec.scenarios.get(name), spec, cls, addresses)

        # each scenario on its own: their errors are reported together, not one per attempt
        collect_errors(partial(scenario_checks, name) for name in spec.scenarios.enabled())
        if addresses is not None:
            cls.check_addresses(addresses)

    @classmethod
    def resolve_platform(cls, spec: Spec) -> Spec:
        """Hook: the platform's own defaults of a spec."""
        return spec

    @classmethod
    def check_platform(cls, spec: Spec) -> None:
        """Hook: the platform's own checks; raises FieldError."""

    @classmethod
    def node_addresses(cls, spec: Spec) -> NodeAddresses | None:
        """Hook: the free addresses of the nodes' network the scenarios take theirs from (None: the spec gives them,
        or the cluster's load balancer does)."""
        return None

    @classmethod
    def check_addresses(cls, addresses: NodeAddresses) -> None:
        """Hook: check what the scenarios claimed of :meth:`node_addresses`; raises FieldError."""

    @classmethod
    def cni_values(
        cls, cni: Cni, kube: KubernetesSettingsBase, spec: Spec, *, cluster: str, cni_gateway: bool
    ) -> dict[str, Any] | None:
        """Hook: the CNI's Helm values on this platform's cluster ``cluster`` (None: it cannot install it; an
        existing cluster's CNI is detected, not installed: an empty mapping)."""
        return {}

    @classmethod
    def cni_objects(cls, cni: Cni, kube: KubernetesSettingsBase, spec: Spec, *, cluster: str) -> list[dict[str, Any]]:
        """Hook: the objects applied after the CNI's release on this platform's cluster ``cluster`` (what its
        operator reads); none where cnibench does not install it."""
        return []

    # ---- before a run ---------------------------------------------------------------------------------------------
    @classmethod
    def prerequisites(cls, spec: Spec | None) -> list[Check]:
        """The platform's machine checks, the tools every Kubernetes platform needs, the scenarios' tools, the
        cluster (``spec`` None: the platform's defaults and every scenario)."""
        kube = kube_settings(spec) if spec is not None else None
        checks = cls.machine_checks(spec) + common_checks()
        names = spec.scenarios.enabled() if spec is not None else [n for n in SCENARIOS.names() if n in ADAPTERS]
        for name in names:
            settings = spec.scenarios.get(name) if spec is not None else None
            checks += adapter(name).local_checks(settings, cls, kube)
        return unique(checks + cls.cluster_checks(spec))

    @classmethod
    def machine_checks(cls, spec: Spec | None) -> list[Check]:
        """Hook: what the platform needs on this machine before the common tools."""
        return []

    @classmethod
    def cluster_checks(cls, spec: Spec | None) -> list[Check]:
        """Hook: the cluster itself, when it exists before the run."""
        return []

    @classmethod
    def priors(cls, spec: Spec) -> Priors:
        return Priors(
            repetition_overhead_s=repetition_overhead_s(spec) + KUBE_PER_REPETITION_S,
            setup_s=cls.cluster_s - cls.teardown_s,
            trial_s=KUBE_TRIAL_SETUP_S,
            teardown_s=cls.teardown_s,
        )

    @classmethod
    def what_is_measured(cls, spec: Spec) -> list[str]:
        """The platform's notes, then what each scenario of the run adds on Kubernetes (its adapter's)."""
        notes = super().what_is_measured(spec)
        kube = kube_settings(spec)
        for name in spec.scenarios.enabled():
            if name in ADAPTERS:
                notes += adapter(name).measured_notes(spec.scenarios.get(name), kube)
        return notes

    def environment(self, spec: Spec) -> dict[str, Any]:
        from cnibench import environment
        from cnibench.metrics import queries

        facts = environment.kube_tools(self.recorded_tools)
        if spec.metrics.enabled:
            facts["metrics"] = {
                "scrape_interval": spec.metrics.scrape_interval,
                "queries": queries.expressions(spec.metrics.interval_s, kube_settings(spec).node_uplinks),
                "scope": queries.KUBE_SCOPE,
            }
        return facts

    # ---- compile (pure) -------------------------------------------------------------------------------------------
    def compile(self, plan: Plan, *, run_dir: Path, prefix: str) -> Compiled:
        spec = plan.spec
        kube = kube_settings(spec)
        state = kube_state_dir() / prefix
        repetitions: list[Repetition] = []
        kept: dict[str, str] = {}
        notes: list[str] = []
        renders: dict[Path, Renderable] = {}
        clusters: list[dict[str, Any]] = []
        steps: list[str] = []
        facts: dict[str, dict[str, Any]] = {}
        last = plan.blocks[-1] if plan.blocks else None
        for block in plan.blocks:  # a fresh cluster per CNI per round, in the plan's order
            name = block.cni
            scenarios = [
                (
                    scenario,
                    spec.scenarios.get(scenario),
                    {t: n for t, n in block.numbers.items() if SCENARIOS.get(scenario).owns(t)},
                )
                for scenario in spec.scenarios.enabled()
            ]
            scenarios = [(scenario, settings, own) for scenario, settings, own in scenarios if own]
            build = ClusterBuild(self, spec, kube, spec_cni(spec, name), prefix, state, run_dir, round=block.round)
            build.vars.update(cni=name, round=block.round, namespace=kube.namespace, timeout=kube.ready_timeout)
            self.create_cluster(build, [adapter(s).images(settings, build) for s, settings, _ in scenarios])
            for scenario, settings, _ in scenarios:
                adapter(scenario).before_cni(settings, build)
            self.install_cni(build)
            namespace = build.add(render.MANIFESTS / "00-namespace.yaml", [render.namespace(kube.namespace)])
            build.vars["namespace_manifest"] = str(namespace)
            build.steps.append(
                f"create namespace {kube.namespace}, labelled with the privileged Pod Security level "
                "(pod-security.kubernetes.io/enforce, audit, warn: node_exporter uses the host network, host PID and "
                "hostPath)"
            )
            build.steps += encryption_steps(build.cni, build.vars["encryption"], ())
            monitoring.compile_step(build)
            for scenario, settings, own in scenarios:
                repetitions += adapter(scenario).compile(settings, build, own)
            keep = self.keep and block is last
            build.vars["keep"] = keep
            kept_here, note = self.end_cluster(build, keep=keep)
            if keep:
                kept, notes = kept_here, [note] if note else []
            renders[build.rendered] = Files(build.files)  # the same files in every round
            build.vars.update(before_cni=build.before_cni, info=build.info, scenarios=build.scenarios)
            build.vars["teardown"]["containers"] = build.containers
            clusters.append(build.vars)
            if name not in facts:
                where = f"[{name}]" if plan.rounds == 1 else f"[round {block.round}, {name}]"
                steps += [f"{where} {step}" for step in build.steps]
            else:
                shown = ", ".join(
                    f"{t} {n.start}" + (f"-{n.stop - 1}" if len(n) > 1 else "") for t, n in block.numbers.items()
                )
                steps.append(f"[round {block.round}, {name}] the same on a fresh cluster: repetitions {shown}")
            facts[name] = {
                "platform": self.name,
                "cni": name,
                # the chart cnibench installs; on an existing cluster the detected one is recorded at run time
                "cni_version": None if self.existing_cluster else kube.versions.chart(build.cni.base),
                **build.facts,
                **variant_facts(build.cni, self.name),
            }
        extravars = {
            "cnibench_platform": self.name,
            "cnibench_keep": self.keep,
            "cnibench_state_dir": str(state),
            "cnibench_clusters": clusters,
        }
        return Compiled(
            PLAYBOOK, extravars, repetitions, steps, facts=facts, renders=renders, kept=kept, notes=tuple(notes)
        )

    # ---- compile hooks: how a cluster comes to be and goes away -------------------------------------------------
    @abstractmethod
    def create_cluster(self, build: ClusterBuild, images: list[list[str]]) -> None:
        """Set the cluster's ``kubeconfig`` and ``context`` and its ``create`` role step (None: it exists), with the
        steps; ``images`` are the scenarios' (kind preloads them)."""

    def install_cni(self, build: ClusterBuild) -> None:
        """The CNI's Helm release with its values rendered (``cni_chart``; None on an existing cluster), with what its
        descriptor declares around it (its namespace, its CRDs before, its objects after, its readiness), then the
        check that the cluster runs it."""
        kube, cni = build.kube, build.cni
        cluster = build.vars.get("cluster") or ""
        values = self.cni_values(cni, kube, build.spec, cluster=cluster, cni_gateway=build.cni_gateway)
        build.vars["encryption"] = encryption_check(cni, kube.ready_timeout)  # read back installed or found
        if self.existing_cluster or values is None:
            build.vars["cni_chart"] = None
            build.vars["expected_cni"] = cni.base
            return
        version = kube.versions.chart(cni.base)
        values_file = build.add(render.HELM_DIR / f"{cni.name}.values.yaml", values)
        namespace = None
        if cni.chart.create_namespace:
            namespace = build.add(render.MANIFESTS / f"01-{cni.name}-namespace.yaml",
                                  [render.namespace(cni.chart.namespace)])  # fmt: skip
            build.steps.append(
                f"create namespace {cni.chart.namespace} (privileged Pod Security level: {cni.title}'s agents use the "
                "host network)"
            )
        crds = None
        if cni.crds is not None:
            crds = {
                "chart_ref": cni.crds.ref,
                "repo": cni.crds.repository,
                "version": cni.chart_version(version),
                "release": cni.crds.release,
                "dest": str(build.state / f"{cni.name}-crds-{version}"),
            }
            build.steps.append(
                f"helm template {cni.crds.release} {cni.crds.ref} {cni.chart_version(version)} "
                f"({cni.crds.repository}) and apply its CRDs server-side; wait until they are established"
            )
        build.steps += encryption_steps(cni, None, cni.key_secrets())
        objects = self.cni_objects(cni, kube, build.spec, cluster=cluster)
        objects_file = build.add(render.MANIFESTS / f"02-{cni.name}.yaml", objects) if objects else None
        build.vars["cni_chart"] = {
            **cni.chart.to_vars(),
            "version": cni.chart_version(version),
            "values": str(values_file),
            "agent": cni.agent.daemonset,
            "agent_namespace": cni.agent_namespace,
            "namespace_manifest": str(namespace) if namespace else None,
            "crds": crds,
            "objects": str(objects_file) if objects_file else None,
            "ready": [dataclasses.asdict(condition) for condition in cni.ready],
            "key_secrets": [secret.to_vars() for secret in cni.key_secrets()],
        }
        build.vars["expected_cni"] = cni.base
        build.steps.append(self.cni_install_step(build, values_file))
        if objects_file is not None:
            kinds = ", ".join(f"{o['kind']} {o['metadata']['name']}" for o in objects)
            build.steps.append(f"apply {kinds} ({build.shown(objects_file)})")
        build.steps.append(
            f"wait for DaemonSet {cni.agent.daemonset} in {cni.agent_namespace}"
            + "".join(f", {c.kind} {c.name} {c.type}" for c in cni.ready)
            + f" and every node Ready (deadline {kube.ready_timeout} s)"
        )
        build.steps.append(f"check the CNI is {cni.name}")

    def cni_install_step(self, build: ClusterBuild, values_file: Path) -> str:
        """Hook: the step that installs the CNI, in words."""
        kube, cni = build.kube, build.cni
        return (
            f"helm install {cni.name} {cni.chart_version(kube.versions.chart(cni.base))} ({cni.chart.repository}) "
            f"with {build.shown(values_file)}"
        )

    @abstractmethod
    def end_cluster(self, build: ClusterBuild, *, keep: bool) -> tuple[dict[str, str], str | None]:
        """Set the cluster's ``teardown`` role step and its steps; with ``keep`` (the run's last cluster) say what
        stays (the compiled run's ``kept``) and the note that tells the user how to reach and remove it."""

    # ---- the run's bookkeeping and its end (the state on this machine: runs.py) -----------------------------------
    def reserve(self, run_dir: Path, owner_pid: int) -> str:
        return runs.reserve(self.name, run_dir, owner_pid)

    def note_playbook(self, prefix: str, pid: int) -> None:
        runs.note_playbook(prefix, pid)

    def cleanup(self, prefix: str, compiled: Compiled | None) -> list[str]:
        """After a run: remove what the playbook's teardown may have left (after Ctrl-C it did not run), then forget
        the run. With ``keep``, what the compiled run keeps stays, with its state (``cnibench clean`` removes it
        later)."""
        kept = (compiled.kept if compiled is not None else {}) if self.keep else None
        try:
            removed = self.remove_run(prefix, kube_state_dir(), runs.run_dir_of(prefix), kept=kept)
        except CommandError as exc:
            raise PlatformError(f"could not remove what the run created: {exc}") from None
        runs.forget(prefix, kept=self.keep)
        return removed

    @classmethod
    @abstractmethod
    def remove_run(cls, prefix: str, directory: Path, run_dir: str | None, *, kept: dict[str, str] | None) -> list[str]:
        """Hook: remove what the run with ``prefix`` created (but ``kept``: ``--keep``); raises CommandError or
        PlatformError. ``directory`` holds the runs' private state, ``run_dir`` is the run's directory."""

    # ---- after a crash --------------------------------------------------------------------------------------------
    @classmethod
    def leftovers(cls) -> list[Leftover]:
        what = f"{cls.leftover_what}, and its kubeconfigs"
        return [
            Leftover(cls.name, item.prefix, what, item.owner_alive, item.run_dir, item.data)
            for item in runs.find_leftovers(cls.name)
        ]

    @classmethod
    def remove(cls, leftover: Leftover) -> list[str]:
        """``cnibench clean``: what a dead run left (its playbook's teardown never ran)."""
        runs.stop_playbook(leftover.data)
        try:
            removed = cls.remove_run(leftover.prefix, kube_state_dir(), leftover.run_dir, kept=None)
        except CommandError as exc:
            raise PlatformError(str(exc)) from None
        runs.forget(leftover.prefix, kept=False)
        return removed

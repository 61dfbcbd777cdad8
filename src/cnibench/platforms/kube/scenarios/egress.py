"""The egress scenario on Kubernetes: an external iperf3 server outside the cluster (where the platform puts it), the
gateway node labelled, the client pod on another worker, the CNI's egress policy for the ``egress`` trial (its
descriptor renders it), every repetition ``kubectl exec`` into the client pod. Role: ``cnibench.bench.egress``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from cnibench import pins
from cnibench.doctor import APT, check_tool
from cnibench.platforms.kube.build import ClusterBuild, ExternalServer, KubeHost, NodeAddresses
from cnibench.platforms.kube.cnis import spec_cni
from cnibench.platforms.kube.cnis.base import Capability, EgressPolicy
from cnibench.platforms.kube.render import GATEWAY_NODE_LABEL, MANIFESTS, app, meta
from cnibench.platforms.kube.scenarios import ADAPTERS
from cnibench.platforms.kube.scenarios.base import KubeAdapter
from cnibench.repetition import Repetition
from cnibench.scenarios.base import base_trial
from cnibench.scenarios.egress import CLIENT_POD, EGRESS, NAME, EgressSettings
from cnibench.scenarios.egress_change import EgressChangeSettings
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.base import Loc
    from cnibench.spec.model import Spec

EGRESS_POLICY = "cnibench-egress"
WHERE = ("scenarios", NAME)
#: kind: the egress IP and the server take these places below the top of kind's network (the LoadBalancer IP .254).
EGRESS_IP_PLACE, SERVER_IP_PLACE = 2, 3


#: A scenario's settings with the two addresses of an external server behind an egress gateway (egress,
#: egress-change).
A = TypeVar("A", EgressSettings, EgressChangeSettings)


def resolve_addresses(settings: A, addresses: NodeAddresses | None) -> A:
    """``settings`` with ``egress_ip`` and ``server_ip`` taken from the top of the nodes' network where the platform
    plans its addresses (kind: :data:`EGRESS_IP_PLACE`, :data:`SERVER_IP_PLACE` below the top) and the spec left
    them out; unchanged on a platform without such a plan (``addresses`` None: the user gives them)."""
    if addresses is None:
        return settings
    filled = {}
    if settings.egress_ip is None:
        filled["egress_ip"] = addresses.top(EGRESS_IP_PLACE)
    if settings.server_ip is None:
        filled["server_ip"] = addresses.top(SERVER_IP_PLACE)
    return settings.model_copy(update=filled)


def claim_addresses(settings: A, addresses: NodeAddresses, where: Loc) -> None:
    """Claim the resolved ``egress_ip`` and ``server_ip`` (fields under ``where``) on the platform's address plan,
    each marked as the default when it is the address :func:`resolve_addresses` would give it."""
    assert settings.egress_ip is not None and settings.server_ip is not None  # resolved
    addresses.claim((*where, "egress_ip"), settings.egress_ip,
                    default=settings.egress_ip == addresses.top(EGRESS_IP_PLACE))  # fmt: skip
    addresses.claim((*where, "server_ip"), settings.server_ip,
                    default=settings.server_ip == addresses.top(SERVER_IP_PLACE))  # fmt: skip


def iperf3_server_argv(bind: str | None = None) -> list[str]:
    """The external server: one long-lived ``iperf3 -s`` serving the repetitions one after the other, in JSON (the
    client's --get-server-output then carries the server's view, with the address it saw)."""
    return ["iperf3", "--server", "--json", *(["--bind", bind] if bind else []), "--port", str(iperf3.DEFAULT_PORT)]


def client_pod(ns: str) -> dict[str, Any]:
    """The egress client pod: never on the gateway node (nor on a control plane, which is tainted)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(CLIENT_POD, ns, app(CLIENT_POD)),
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": GATEWAY_NODE_LABEL, "operator": "DoesNotExist"}]}
                        ]
                    }
                }
            },
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "iperf3",
                    "image": pins.IPERF3_IMAGE,
                    # a long-lived process to exec the measurements in (busybox's sleep takes seconds)
                    "command": ["sleep", "31536000"],
                    "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
                }
            ],
        },
    }


class KubeEgress(KubeAdapter[EgressSettings]):
    scenario: ClassVar[str] = NAME
    needs: ClassVar[tuple[Capability, ...]] = (Capability.POD_NETWORK, Capability.EGRESS_GATEWAY)

    def resolve(self, settings: EgressSettings, addresses: NodeAddresses | None) -> EgressSettings:
        return resolve_addresses(settings, addresses)

    def check(
        self, settings: EgressSettings, spec: Spec, platform: type[KubeHost], addresses: NodeAddresses | None
    ) -> None:
        """An external server the platform can run, the addresses: claimed on the
        platform's node network (kind), or given by the user (an existing cluster)."""
        if platform.no_external_server is not None:
            raise FieldError(WHERE, f"not on {platform.name}: {platform.no_external_server}")
        for field in ("baseline_source_ip", "egress_source_ip"):
            if getattr(settings, field) is not None and not platform.existing_cluster:
                raise FieldError((*WHERE, field), f"only on kubeconfig: on {platform.name} the server sits on the "
                                 "nodes' own network, where it sees the node or egress IP itself")  # fmt: skip
        if "external_cidr" in settings.model_fields_set:
            raise FieldError((*WHERE, "external_cidr"), f"only on netns: on {platform.name} the server is "
                             f"{platform.external_server_where}")  # fmt: skip
        if addresses is not None:
            claim_addresses(settings, addresses, WHERE)
            return
        cnis = [spec_cni(spec, name) for name in spec.cni_names]
        needing_ip = [cni for cni in cnis if cni.egress is not None and not cni.egress.ip_optional]
        if settings.server_ip is None:
            raise FieldError(
                (*WHERE, "server_ip"),
                f"required on {platform.name}: an address {platform.external_server_where} the nodes can reach "
                "(cnibench runs iperf3 -s there)",
            )
        if settings.egress_ip is None and needing_ip:
            raise FieldError(
                (*WHERE, "egress_ip"),
                f"required on {platform.name}: a free address on the nodes' network for the egress IP, which "
                f"{' and '.join(cni.title for cni in needing_ip)} needs (no use of the gateway node's own address)",
            )
        if settings.egress_ip == settings.server_ip:
            raise FieldError((*WHERE, "egress_ip"), "must differ from server_ip")

    def before_cni(self, settings: EgressSettings, build: ClusterBuild) -> None:
        """On an existing cluster, installed by someone else, its CNI's egress gateway may be switched off (Cilium's
        chart ships with ``egressGateway.enabled: false``): checked before anything is created."""
        egress = build.cni.egress
        if build.platform.existing_cluster and egress is not None and egress.existing_cluster_requirement:
            build.info["cni_egress"] = True
            build.steps.append(f"before anything is created: require {egress.existing_cluster_requirement}")

    def local_checks(
        self, settings: EgressSettings | None, platform: type[KubeHost], kube: KubernetesSettingsBase | None
    ) -> list[Check]:
        if not platform.external_server_here:
            return []
        return [check_tool("iperf3", f"{APT} iperf3", what="iperf3 (egress: the external server)")]

    def images(self, settings: EgressSettings, build: ClusterBuild) -> list[str]:
        return [pins.IPERF3_IMAGE]

    def compile(self, settings: EgressSettings, build: ClusterBuild, numbers: Mapping[str, range]) -> list[Repetition]:
        assert settings.server_ip is not None
        platform, cni, ns = build.platform, build.cni, build.kube.namespace
        assert cni.egress is not None  # checked with the spec
        server_ip = str(settings.server_ip)
        # None: a CNI whose policy may go without one (the gateway node's own address is used)
        egress_ip = str(settings.egress_ip) if settings.egress_ip is not None else None
        client = build.add(MANIFESTS / "30-iperf3-client.yaml", [client_pod(ns)])
        policy = build.add(
            MANIFESTS / f"31-egress-policy-{cni.name}.yaml",
            cni.egress_policy(
                EgressPolicy(EGRESS_POLICY, ns, app(CLIENT_POD), f"{server_ip}/32", egress_ip, GATEWAY_NODE_LABEL)
            ),
        )
        # the gateway: the first worker when the workers' names are known before the run (kind), else picked then
        workers = platform.worker_names(build)
        preferred = workers[0] if workers else None
        server, where = platform.external_server(
            build,
            ExternalServer(
                "iperf3", iperf3_server_argv, pins.IPERF3_IMAGE, server_ip, iperf3.DEFAULT_PORT, "iperf3 -s"
            ),
        )
        # a CNI that does not put the egress IP on the gateway node itself: cnibench does, where the node is a
        # container on the nodes' network (kind): the IP added to its eth0
        assign = None
        if not cni.egress.assigns_ip and egress_ip is not None and platform.node_containers:
            assert preferred is not None  # a container's name is known before the run
            prefixlen = build.spec.network.node_cidr.prefixlen
            assign = {"container": preferred, "address": f"{egress_ip}/{prefixlen}", "device": "eth0"}
        build.info["pick_gateway_node"] = True
        build.outside_namespace += ["remove the gateway label", "stop the iperf3 server"]
        build.info["preferred_gateway"] = preferred
        repetitions = EGRESS.repetitions(
            settings,
            cni=cni.name,
            numbers={t: n for t, n in numbers.items() if EGRESS.owns(t)},
            run_dir=build.run_dir,
            server_ip=server_ip,
            client_node_ip="(the client pod's node, read at run time)",
        )
        # the scenario's iperf3 client per trial (the same in every repetition of a trial; a fixed load's bitrate
        # differs between its trials)
        base_argv = {r.scenario: r.command.argv for r in repetitions}
        # iperf3 in the client pod through `kubectl exec` on this machine; its JSON is kubectl's stdout
        repetitions = build.finish(
            [
                dataclasses.replace(
                    r,
                    command=dataclasses.replace(
                        r.command, argv=tuple(build.kubectl.argv("exec", CLIENT_POD, "--", *r.command.argv)), netns=""
                    ),
                )
                for r in repetitions
            ]
        )
        build.steps.append(f"start the external iperf3 server: {where}")
        build.steps.append(
            f"label the egress gateway node {GATEWAY_NODE_LABEL}=true: "
            + (preferred if preferred else "the first ready, schedulable worker by name")
            + (f"; add the egress IP to its eth0 ({cni.title} needs it on the node)" if assign else "")
        )
        build.steps.append(f"start pod {CLIENT_POD} on another worker ({pins.IPERF3_IMAGE}); wait until Ready")
        trial_vars = []
        for trial in EGRESS.ordered(list(numbers)):
            trial_reps = [r for r in repetitions if r.scenario == trial]
            with_policy = base_trial(trial) == NAME
            if with_policy:
                build.steps.append(
                    f"apply the egress policy ({cni.egress.kinds}, {policy.relative_to(build.rendered)}): the "
                    f"client's traffic to {server_ip} leaves through the gateway node as "
                    f"{egress_ip or 'its own address'}; probe until the server sees it and record the delay "
                    f"(egress_apply_s; deadline {settings.apply_timeout} s)"
                )
            else:
                build.steps.append("probe until the server sees the client node's own address (the node masquerades)")
            argv_text = " ".join(base_argv[trial])
            idle = trial_reps[0].command.idle_s if trial_reps else 0.0
            build.steps.append(
                f"{trial}: {len(trial_reps)} x "
                + (f"(idle {idle:g} s on this machine, then) " if idle else "")
                + f"`kubectl exec {CLIENT_POD} -- {argv_text}`"
            )
            if with_policy:
                build.steps.append("delete the egress policy")
            trial_vars.append(
                build.trial(
                    trial,
                    trial_reps,
                    mode="policy" if with_policy else "baseline",
                    policy=str(policy) if with_policy else None,
                )
            )
        build.scenarios.append(
            build.role(
                "egress",
                client_manifest=str(client),
                client_pod=CLIENT_POD,
                gateway_labels={GATEWAY_NODE_LABEL: "true"},
                assign_egress_ip=assign,
                server=server,
                server_ip=server_ip,
                egress_ip=egress_ip,
                # what the server must see, when the spec says (None: the node's or the egress IP, found at run time)
                expected_sources={
                    "baseline": str(settings.baseline_source_ip) if settings.baseline_source_ip else None,
                    "policy": str(settings.egress_source_ip) if settings.egress_source_ip else None,
                },
                probe={"port": iperf3.DEFAULT_PORT, "timeout": settings.apply_timeout},
                trials=trial_vars,
            )
        )
        return repetitions


ADAPTERS.register(NAME, KubeEgress())

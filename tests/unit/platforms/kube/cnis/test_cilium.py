"""Cilium's descriptor: what keeps its own Gateway API from serving cnibench's Gateway on an existing cluster.

No cluster can run here: these documents are built in the tests, field for field as ``kubectl get -o json`` and
``docker network inspect`` print them (only the fields cnibench reads)."""

from __future__ import annotations

from cnibench.platforms.kube.cnis import cilium


def _crd(name: str, created: str) -> dict:
    return {"metadata": {"name": name, "creationTimestamp": created}}


def _operator(started: str) -> dict:
    return {"items": [{"status": {"containerStatuses": [{"state": {"running": {"startedAt": started}}}]}}]}


CILIUM_CONFIG = {"data": {"enable-gateway-api": "true", "kube-proxy-replacement": "true"}}


GATEWAY_CRDS = {"items": [_crd(name, "2026-11-01T09:00:00Z") for name in cilium.GATEWAY_CRDS]}


def test_cilium_gateway_on_an_existing_cluster_ready():
    assert cilium.gateway_problems(GATEWAY_CRDS, CILIUM_CONFIG, _operator("2026-11-01T09:05:00Z")) == []


def test_cilium_gateway_without_crds_or_settings_names_what_is_missing():
    crds = {"items": GATEWAY_CRDS["items"][:3]}
    config = {"data": {"kube-proxy-replacement": "false"}}
    problems = cilium.gateway_problems(crds, config, _operator("2026-11-01T09:05:00Z"))
    assert len(problems) == 3
    assert problems[0].startswith(
        "the Gateway API CRDs grpcroutes.gateway.networking.k8s.io, referencegrants.gateway.networking.k8s.io are "
        "missing"
    )
    assert "enable-gateway-api" in problems[1] and "kube-proxy-replacement: 'false'" in problems[2]
    assert cilium.gateway_problems(GATEWAY_CRDS, None, {"items": []}) == ["ConfigMap cilium-config not found"]


def test_crds_created_after_the_operator_started_need_a_restart():
    (problem,) = cilium.gateway_problems(GATEWAY_CRDS, CILIUM_CONFIG, _operator("2026-11-01T08:00:00Z"))
    assert "after cilium-operator started (2026-11-01T08:00:00Z)" in problem and "rollout restart" in problem

"""The CEL rules (x-kubernetes-validations) of the pinned CRDs, which ../shared/tools/validate_manifests.py does not
evaluate, evaluated on every rendered custom resource with cel-python: defaults applied first, as the API server
does; transition rules (oldSelf) do not apply to a create. Gateway API relies on them (e.g. a URLRewrite with
ReplacePrefixMatch needs exactly one PathPrefix match)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from kube_examples import write_example

from cnibench import commands

ROOT = Path(__file__).resolve().parents[4]
SCHEMAS = ROOT.parent / "shared" / "schemas"
pytestmark = pytest.mark.skipif(not SCHEMAS.is_dir(), reason="../shared/schemas (the pinned CRDs) not here")


def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in SCHEMAS.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for version in doc["spec"]["versions"]:
                key = (f"{doc['spec']['group']}/{version['name']}", doc["spec"]["names"]["kind"])
                out[key] = version["schema"]["openAPIV3Schema"]
    return out


def _defaults(schema: dict[str, Any], node: Any) -> None:
    if isinstance(node, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in node and "default" in sub:
                node[name] = json.loads(json.dumps(sub["default"]))
            if name in node:
                _defaults(sub, node[name])
    elif isinstance(node, list) and "items" in schema:
        for item in node:
            _defaults(schema["items"], item)


def _rules(schema: dict[str, Any], node: Any, where: str) -> list[tuple[str, str, bool]]:
    """(where, message, passed) for every rule that applies to ``node``."""
    env = celpy.Environment()
    out = []
    for rule in schema.get("x-kubernetes-validations") or []:
        if "oldSelf" in rule["rule"]:
            continue
        result = env.program(env.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(node)})
        out.append((where, rule.get("message", rule["rule"]), bool(result)))
    if isinstance(node, dict):
        for name, value in node.items():
            sub = (schema.get("properties") or {}).get(name)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                out += _rules(sub, value, f"{where}.{name}")
    elif isinstance(node, list) and "items" in schema:
        for index, item in enumerate(node):
            out += _rules(schema["items"], item, f"{where}[{index}]")
    return out


def _check(doc: dict[str, Any], crds: dict[tuple[str, str], dict[str, Any]]) -> list[tuple[str, str, bool]]:
    schema = crds[(doc["apiVersion"], doc["kind"])]
    doc = copy.deepcopy(doc)
    _defaults(schema, doc)
    return _rules(schema, doc, doc["kind"])


def _rendered(tmp_path: Path, example: str, **changes: Any) -> list[dict[str, Any]]:
    spec = write_example(tmp_path, example, **changes)
    commands.render(spec, tmp_path / "out")
    docs = []
    for path in sorted((tmp_path / "out").glob("rendered/*/manifests/*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


@pytest.mark.parametrize(
    ("example", "changes"),
    [
        ("kind-antrea-vs-cilium.yaml", {}),
        ("kind-antrea-vs-cilium.yaml", {"cnis": ["cilium"], "kubernetes__gateway_implementation": "cilium"}),
        ("kubeconfig.yaml", {}),
        ("aks.yaml", {}),
        ("kind-antrea-vs-cilium.yaml", {"cnis": ["calico", "flannel"], "scenarios__egress": None}),
        ("aks.yaml", {"cnis": ["calico"]}),
    ],
)
def test_every_cel_rule_holds_for_the_rendered_custom_resources(tmp_path, example, changes):
    crds = _crds()
    checked = 0
    for doc in _rendered(tmp_path, example, **changes):
        if (doc["apiVersion"], doc["kind"]) not in crds:
            continue  # built-in kinds: no CEL rules in the pinned API
        results = _check(doc, crds)
        assert all(passed for _, _, passed in results), [r for r in results if not r[2]]
        checked += len(results)
    assert checked >= 40  # the Gateway API objects carry most of them


def test_a_broken_route_breaks_a_rule(tmp_path):
    """The evaluation can fail: a ReplacePrefixMatch rewrite on an Exact match is refused, as the API server would."""
    crds = _crds()
    route = next(d for d in _rendered(tmp_path, "kind-antrea-vs-cilium.yaml") if d["kind"] == "HTTPRoute")
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Exact"
    failed = [r for r in _check(route, crds) if not r[2]]
    assert failed and "exactly one PathPrefix match" in failed[0][1]

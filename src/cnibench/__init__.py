"""cnibench: benchmark Kubernetes network plugins in the egress and ingress scenarios."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cnibench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

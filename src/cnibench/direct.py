"""HTTP straight to the address asked, never through a proxy.

cnibench's own HTTP requests go to addresses of the run: Prometheus through a port-forward on 127.0.0.1 or in a
namespace, the LoadBalancer IP of a Gateway. ``urllib`` honours ``http_proxy``/``https_proxy`` from the
environment and bypasses them for 127.0.0.1 only when ``no_proxy`` says so: behind a proxy, cnibench would measure
(or fail at) the proxy. A proxy-less opener is the standard library's own way (``ProxyHandler({})``).
"""

from __future__ import annotations

import urllib.request
from http.client import HTTPResponse
from typing import cast

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def urlopen(url: str, *, timeout: float) -> HTTPResponse:
    """``urllib.request.urlopen`` without any proxy; raises what it raises (URLError, HTTPError, OSError)."""
    return cast(HTTPResponse, _OPENER.open(url, timeout=timeout))


def no_proxy_env(addresses: list[str], environ: dict[str, str]) -> dict[str, str]:
    """``NO_PROXY`` and ``no_proxy`` with ``addresses`` added, for a tool that honours the proxy variables (k6:
    Go's ``http.ProxyFromEnvironment``, grafana/k6 js/runner.go); empty when no proxy is set."""
    if not any(environ.get(name) for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")):
        return {}
    current = [a for a in (environ.get("NO_PROXY") or environ.get("no_proxy") or "").split(",") if a.strip()]
    value = ",".join([*current, *(a for a in addresses if a not in current)])
    return {"NO_PROXY": value, "no_proxy": value}

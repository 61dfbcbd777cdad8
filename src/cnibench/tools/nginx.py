"""nginx configurations: the echo backends and the L7 gateway. Pure functions from a route model to text.

nginx is started in the foreground (``daemon off``) by cnibench itself, so it is owned by PID and stopped with
its namespace; ``-e`` sends even start-up errors to the run's log instead of /var/log/nginx.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BACKEND_PORT = 8080
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True)
class BackendRef:
    """A backend of a route: an echo pod and the port it listens on (an HTTPRoute backendRef)."""

    name: str
    ip: str
    port: int


@dataclass(frozen=True)
class HTTPRoute:
    """What a Gateway API Gateway + HTTPRoute say, for one listener and one PathPrefix rule."""

    listener_ip: str
    listener_port: int
    path_prefix: str
    backends: tuple[BackendRef, ...]


def argv(conf: Path, prefix: Path, error_log: Path) -> list[str]:
    return ["nginx", "-c", str(conf), "-p", str(prefix), "-e", str(error_log)]


def _common(prefix: Path, error_log: Path, workers: int | str, title: str) -> list[str]:
    return [
        f"# {title} (rendered by cnibench)",
        "daemon off;",
        f"worker_processes {workers};",
        "worker_rlimit_nofile 65536;",  # one descriptor per connection (two on the gateway): VUs in the thousands
        f"pid {prefix / 'nginx.pid'};",
        f"error_log {error_log} warn;",
        "events {",
        "  worker_connections 8192;",
        "}",
    ]


def _http_common(prefix: Path) -> list[str]:
    return [
        "  access_log off;",  # a log line per request would throttle the server and fill the disk
        "  server_tokens off;",
        "  keepalive_requests 1000000;",
        *(f"  {name}_temp_path {prefix / 'tmp' / name};" for name in _TEMP_PATHS),
    ]


def echo_conf(name: str, backend: BackendRef, *, prefix: Path, error_log: Path) -> str:
    """An echo backend: every request is answered with ``Hostname: <pod name>``, from memory."""
    lines = [
        *_common(prefix, error_log, 1, f"echo backend {name}"),
        "http {",
        *_http_common(prefix),
        "  server {",
        f"    listen {backend.ip}:{backend.port} backlog=4096;",
        "    default_type text/plain;",
        "    location / {",
        f'      return 200 "Hostname: {name}\\n";',
        "    }",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def crr_conf(name: str, ip: str, port: int, *, prefix: Path, error_log: Path) -> str:
    """The crr workload's server: every request is answered with a 1-byte body (``x``) from memory, and every
    HTTP/1.0 connection closed after its response (ab's, without ``-k``): one connection per transaction, as
    netperf's TCP_CRR (whose request and response are 1 byte of raw TCP)."""
    lines = [
        *_common(prefix, error_log, 1, f"crr server {name}"),
        "http {",
        *_http_common(prefix),
        "  server {",
        f"    listen {ip}:{port} backlog=4096;",
        "    default_type text/plain;",
        "    location / {",
        '      return 200 "x";',
        "    }",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def gateway_conf(route: HTTPRoute, *, prefix: Path, error_log: Path, workers: str = "auto") -> str:
    """The L7 gateway: the route's path prefix is proxied round-robin, per request, to its backends over
    kept-alive upstream connections; everything else is a 404 (as a Gateway with no matching route)."""
    path = route.path_prefix.rstrip("/") or "/"
    servers = [f"    server {b.ip}:{b.port};" for b in route.backends]
    # PathPrefix semantics: /echo matches /echo and /echo/..., not /echoes
    locations = [f"location = {path}", f"location {path}/"] if path != "/" else ["location /"]
    proxy = [
        "      proxy_pass http://backends;",
        "      proxy_http_version 1.1;",
        '      proxy_set_header Connection "";',
        "      proxy_set_header Host $host;",
    ]
    lines = [
        *_common(prefix, error_log, workers, "L7 gateway for an HTTPRoute"),
        "http {",
        *_http_common(prefix),
        "  upstream backends {",
        *servers,
        "    keepalive 256;",
        "  }",
        "  server {",
        f"    listen {route.listener_ip}:{route.listener_port} backlog=4096;",
    ]
    for location in locations:
        lines += [f"    {location} {{", *proxy, "    }"]
    if path != "/":
        lines += ["    location / {", "      return 404;", "    }"]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def version_of(output: str) -> str | None:
    """``nginx version: nginx/1.22.1`` -> ``1.22.1``."""
    return output.rsplit("/", 1)[1].strip() if "nginx/" in output else None

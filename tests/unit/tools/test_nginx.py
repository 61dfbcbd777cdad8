from __future__ import annotations

import subprocess
from pathlib import Path

from cnibench.tools import nginx

ROUTE = nginx.HTTPRoute(
    "172.18.0.254",
    80,
    "/echo",
    (nginx.BackendRef("echo-1", "10.244.1.2", 8080), nginx.BackendRef("echo-2", "10.244.2.2", 8080)),
)


def _syntax_ok(conf: str, tmp: Path) -> str:
    """nginx -t reports the syntax before it tries to bind (binding fails here: the addresses are not ours)."""
    (tmp / "tmp").mkdir(exist_ok=True)
    path = tmp / "nginx.conf"
    path.write_text(conf)
    proc = subprocess.run([*nginx.argv(path, tmp, tmp / "error.log"), "-t"], capture_output=True, text=True)
    return proc.stderr


def test_gateway_routes_the_path_prefix_to_every_backend(tmp_path):
    conf = nginx.gateway_conf(ROUTE, prefix=tmp_path, error_log=tmp_path / "e.log")
    assert "server 10.244.1.2:8080;" in conf and "server 10.244.2.2:8080;" in conf
    assert "listen 172.18.0.254:80" in conf
    assert "location = /echo {" in conf and "location /echo/ {" in conf  # PathPrefix, not a string prefix
    assert "return 404;" in conf and "keepalive" in conf and "daemon off;" in conf
    assert "access_log off;" in conf
    assert "syntax is ok" in _syntax_ok(conf, tmp_path)


def test_echo_backend_answers_with_its_name(tmp_path):
    conf = nginx.echo_conf("echo-2", ROUTE.backends[1], prefix=tmp_path, error_log=tmp_path / "e.log")
    assert 'return 200 "Hostname: echo-2\\n";' in conf
    assert "listen 10.244.2.2:8080" in conf
    assert "worker_processes 1;" in conf
    assert "syntax is ok" in _syntax_ok(conf, tmp_path)


def test_root_path_routes_everything(tmp_path):
    route = nginx.HTTPRoute("1.2.3.4", 8000, "/", ROUTE.backends)
    conf = nginx.gateway_conf(route, prefix=tmp_path, error_log=tmp_path / "e.log")
    assert "location / {" in conf and "return 404" not in conf
    assert "syntax is ok" in _syntax_ok(conf, tmp_path)

"""cnibench's own HTTP requests never go through a proxy: a real HTTP server on 127.0.0.1 and a proxy setting that
points nowhere."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cnibench import direct


class _Hostname(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"Hostname: echo-0\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostname)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_a_proxy_in_the_environment_is_not_used(server, monkeypatch):
    # a proxy that refuses connections: a request sent to it fails
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(urllib.error.URLError):
        urllib.request.build_opener().open(server, timeout=5)  # a fresh opener reads the proxy from the environment
    with direct.urlopen(server, timeout=5) as response:
        assert response.read() == b"Hostname: echo-0\n"


def test_no_proxy_gets_the_addresses_only_when_a_proxy_is_set():
    assert direct.no_proxy_env(["172.18.255.254"], {}) == {}
    env = direct.no_proxy_env(["172.18.255.254"], {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost"})
    assert env == {"NO_PROXY": "localhost,172.18.255.254", "no_proxy": "localhost,172.18.255.254"}

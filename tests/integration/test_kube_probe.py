"""The egress probe of the Kubernetes platforms, with real iperf3 on the loopback: the server's own JSON says which
address it saw, and the wait ends when it is the expected one (or fails at the deadline saying what it saw)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from cnibench.errors import PlatformError
from cnibench.platforms.kube import waits
from cnibench.platforms.kube.kubectl import Kubectl
from cnibench.tools import iperf3

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        iperf3.server_argv("127.0.0.1", port),  # what runs outside the cluster (with --json, as render's)
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _probe(port: int) -> list[str]:
    # what probe_argv runs in the client pod, here straight on the loopback
    argv = waits.probe_argv(Kubectl(None, None, "x"), "pod", "127.0.0.1", port)
    return argv[argv.index("--") + 1 :]


def test_the_wait_ends_when_the_server_sees_the_expected_address(server):
    seconds, seen = waits.wait_source(_probe(server), "127.0.0.1", timeout=20, interval=0.2)
    assert seen == "127.0.0.1" and seconds < 20


def test_the_wait_fails_at_its_deadline_naming_what_the_server_saw(server):
    waits.wait_source(_probe(server), "127.0.0.1", timeout=20, interval=0.2)  # the server is up
    with pytest.raises(PlatformError, match=r"the external server saw 127\.0\.0\.1, not 10\.255\.255\.1, for 1\.5 s"):
        waits.wait_source(_probe(server), "10.255.255.1", timeout=1.5, interval=0.2)


def _http_server(body: bytes) -> tuple[str, Iterator[None]]:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> Iterator[None]:
        yield
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}/echo", stop()


def test_the_route_must_answer_before_the_first_repetition():
    url, stop = _http_server(b"Hostname: echo-0\nIP: 10.244.1.5\n")
    next(stop)
    try:
        assert waits.wait_http(url, timeout=10) < 10
    finally:
        next(stop, None)
    url, stop = _http_server(b"default backend - 404")  # a load balancer's answer, not the route's
    next(stop)
    try:
        with pytest.raises(PlatformError, match=r"did not answer within 1\.5 s: HTTP 200 without a Hostname line"):
            waits.wait_http(url, timeout=1.5)
    finally:
        next(stop, None)

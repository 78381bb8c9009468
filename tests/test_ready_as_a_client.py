"""The readiness probe asks as a client does: once more when a connection is cut unanswered, never on a refusal.

Seen in `harness all`: the app server a probe's request was on was killed, HAProxy marked it down and shut its
sessions (`on-marked-down shutdown-sessions`) a few ms before its connect timeout would have sent the request to
the other server, so the client got a closed connection; every HTTP client retries that for a GET."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from harness.core.http_json import ready_as_a_client


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next item of the server's script: an HTTP status, or "cut"."""

    def do_GET(self) -> None:
        server: _ScriptedServer = self.server  # type: ignore[assignment]
        step = server.script[min(len(server.seen), len(server.script) - 1)]
        server.seen.append(self.path)
        if step == "cut":
            self.close_connection = True
            self.connection.close()  # the request read, no status line sent: what the client sees from a killed server
            return
        self.send_response(int(step))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet: the test asserts on what the server saw."""


class _ScriptedServer(http.server.ThreadingHTTPServer):
    def __init__(self, script: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Scripted)
        self.script, self.seen = script, []


@contextmanager
def scripted(*script: str) -> Iterator[_ScriptedServer]:
    server = _ScriptedServer(list(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: _ScriptedServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_connection_cut_unanswered_is_asked_again_once() -> None:
    with scripted("cut", "200") as server:
        assert ready_as_a_client(_url(server), timeout_s=2) == (True, True)
        assert server.seen == ["/health/ready", "/health/ready"]


def test_cut_twice_is_not_ready() -> None:
    with scripted("cut", "cut", "200") as server:
        assert ready_as_a_client(_url(server), timeout_s=2) == (False, True)
        assert len(server.seen) == 2, "one retry, not a loop"


def test_an_http_error_is_an_answer_and_not_retried() -> None:
    with scripted("503", "200") as server:
        assert ready_as_a_client(_url(server), timeout_s=2) == (False, False)
        assert len(server.seen) == 1


def test_a_refused_connection_is_not_retried() -> None:
    with scripted("200") as server:
        url = _url(server)
    assert ready_as_a_client(url, timeout_s=2) == (False, False)


def test_ready_on_the_first_answer() -> None:
    with scripted("200") as server:
        assert ready_as_a_client(_url(server), timeout_s=2) == (True, False)
        assert len(server.seen) == 1

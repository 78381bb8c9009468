"""The media line's UDP impairer, run as the wan host runs it, on loopback in front of an echo server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.waiting import wait_for
from infra.images import IMAGES_DIR

PROGRAM = IMAGES_DIR / "wan" / "rootfs" / "usr" / "local" / "sbin" / "ihh-udp-impair"
TOKEN = "t0ken-for-the-impairer-test"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Line:
    """The impairer with one link in front of an echo server; the client's socket and the API."""

    def __init__(self, tmp: Path) -> None:
        self.echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.echo.bind(("127.0.0.1", 0))
        self.listen, self.api = free_port(), free_port(socket.SOCK_STREAM)
        (tmp / "token").write_text(TOKEN)
        config = {"api": f"127.0.0.1:{self.api}", "token_file": str(tmp / "token"), "ready_file": str(tmp / "ready"),
                  "links": [{"name": "turn-1", "listen": f"127.0.0.1:{self.listen}",
                             "upstream": f"127.0.0.1:{self.echo.getsockname()[1]}"}]}
        (tmp / "links.json").write_text(json.dumps(config))
        self.process = subprocess.Popen([sys.executable, str(PROGRAM), str(tmp / "links.json")])
        wait_for("the impairer to be ready", lambda: (tmp / "ready").exists(), timeout=10, interval=0.05)
        self.echoing = threading.Thread(target=self._echo, daemon=True)
        self.echoing.start()
        self.client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def _echo(self) -> None:
        self.echo.settimeout(0.2)
        while self.process.poll() is None:
            try:
                data, peer = self.echo.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.echo.sendto(data, peer)

    def api_call(self, method: str, path: str, body: object = None, token: str | None = TOKEN) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.api}{path}", data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def round_trips(self, count: int, interval_s: float = 0.01, drain_s: float = 1.0) -> list[float]:
        """Send ``count`` numbered datagrams; the round trip of each that came back (duplicates too)."""
        sent: dict[int, float] = {}
        back: list[float] = []
        deadline = None
        seq = 0
        self.client.settimeout(interval_s)  # the stream's pacing: a receive waits at most one interval
        while deadline is None or time.monotonic() < deadline:
            if seq < count:
                sent[seq] = time.monotonic()
                self.client.sendto(seq.to_bytes(4, "big") + bytes(168), ("127.0.0.1", self.listen))
                seq += 1
                if seq == count:
                    deadline = time.monotonic() + drain_s
            try:
                data = self.client.recv(2048)
                back.append(time.monotonic() - sent[int.from_bytes(data[:4], "big")])
            except TimeoutError:
                pass
        return back

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)
        self.client.close()
        self.echo.close()


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    running = Line(tmp_path)
    yield running
    running.close()


def test_a_clean_line_forwards_everything_both_ways(line: Line) -> None:
    assert len(line.round_trips(50)) == 50
    status, links = line.api_call("GET", "/links")
    assert status == 200 and links["turn-1"]["counters"]["forwarded"] == 100 and links["turn-1"]["impairment"] == {}


def test_delay_applies_each_way_and_is_taken_back(line: Line) -> None:
    assert line.api_call("PUT", "/links/turn-1/impairment", {"delay_ms": 100})[0] == 200
    delayed = line.round_trips(20)
    assert len(delayed) == 20 and min(delayed) >= 0.19, delayed
    assert line.api_call("DELETE", "/links/turn-1/impairment")[0] == 200
    assert max(line.round_trips(20)) < 0.1


def test_loss_and_duplication_are_random_in_the_asked_proportion(line: Line) -> None:
    line.api_call("PUT", "/links/turn-1/impairment", {"loss": 1})
    assert line.round_trips(20, drain_s=0.3) == []
    line.api_call("PUT", "/links/turn-1/impairment", {"duplicate": 1})
    assert len(line.round_trips(20)) == 80, "duplicated on the way there and again on the way back"


def test_the_rate_cap_queues_then_drops(line: Line) -> None:
    line.api_call("PUT", "/links/turn-1/impairment", {"rate_kbit": 64})  # 172-byte packets: ~46 per second
    back = line.round_trips(100, interval_s=0.002)
    assert 5 < len(back) < 60, len(back)


def test_the_api_refuses_without_the_token_and_names_a_bad_field(line: Line) -> None:
    assert line.api_call("GET", "/links", token=None)[0] == 401
    assert line.api_call("PUT", "/links/turn-1/impairment", {"loss": 0.5}, token="wrong-token-of-length")[0] == 401
    status, answer = line.api_call("PUT", "/links/turn-1/impairment", {"loss": 2})
    assert status == 400 and answer["error"].startswith("loss: must be a number from 0 to 1")
    status, answer = line.api_call("PUT", "/links/turn-1/impairment", {"latency": 5})
    assert status == 400 and answer["error"].startswith("latency: not an impairment")
    assert line.api_call("PUT", "/links/turn-9/impairment", {})[0] == 404

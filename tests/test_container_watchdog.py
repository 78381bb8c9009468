"""The database image's container watchdog: Linux watchdog semantics over Patroni's named-pipe driver."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

WATCHDOG = Path(__file__).parents[1] / "images/database/rootfs/usr/local/lib/ihh/container-watchdog"


@pytest.fixture
def watchdog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[float]]:
    """The daemon's module on a pipe of its own, its reset recorded instead of killing anyone."""
    loader = importlib.machinery.SourceFileLoader("container_watchdog", str(WATCHDOG))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("container_watchdog", loader))
    loader.exec_module(module)
    device = tmp_path / "watchdog"
    os.mkfifo(device, 0o600)
    resets: list[float] = []
    monkeypatch.setattr(module, "DEVICE", str(device))
    monkeypatch.setattr(module, "reset", resets.append)
    return module, resets


def patroni_writes(device: str, *chunks: bytes, pause_s: float = 0.0) -> threading.Thread:
    """Write like Patroni's testing driver: open, then each chunk as its own write, then close."""
    def run() -> None:
        fd = os.open(device, os.O_WRONLY)
        try:
            for chunk in chunks:
                os.write(fd, chunk)
            if pause_s:
                time.sleep(pause_s)  # the writer's silence is what the daemon is timed on
        finally:
            os.close(fd)
    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    return writer


def test_the_timeout_line_and_pings_are_parsed_across_writes(watchdog) -> None:
    module, _ = watchdog
    timer = module.Timer()
    timer.feed(b"Ctime")
    assert timer.timeout_s == module.FIRST_TIMEOUT_S, "a half-written timeout line changes nothing yet"
    timer.feed(b"out=9\n1")
    assert timer.timeout_s == 9 and -9.5 < timer.overdue_s() < -8.5
    timer.feed(b"1V")
    assert timer.magic_close, "a V written last allows a disarming close"
    timer.feed(b"1")
    assert not timer.magic_close, "a ping after the V takes the permission back"


def test_a_silent_leader_is_reset_after_its_timeout(watchdog) -> None:
    module, resets = watchdog
    started = time.monotonic()
    writer = patroni_writes(module.DEVICE, b"Ctimeout=1\n", b"1", pause_s=1.5)
    assert module.watch_one_opening() is True
    elapsed = time.monotonic() - started
    writer.join(timeout=5)
    assert len(resets) == 1 and 0.9 <= elapsed < 2.5, (resets, elapsed)


def test_a_magic_close_disarms_and_a_plain_close_still_resets(watchdog) -> None:
    module, resets = watchdog
    patroni_writes(module.DEVICE, b"Ctimeout=1\n", b"1", b"V")
    assert module.watch_one_opening() is False and resets == []
    started = time.monotonic()
    patroni_writes(module.DEVICE, b"Ctimeout=1\n", b"1")  # its writer died: no V
    assert module.watch_one_opening() is True
    assert len(resets) == 1 and time.monotonic() - started >= 0.9

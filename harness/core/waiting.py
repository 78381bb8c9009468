"""Wait on a condition with a deadline, never a bare sleep (after terratest's retry module)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeoutError(TimeoutError):
    """The condition did not hold before the deadline; carries the last observation."""

    def __init__(self, what: str, seconds: float, last: object) -> None:
        super().__init__(f"timed out after {seconds:.0f} s waiting for {what}; last: {last}")
        self.what = what
        self.last = last


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 0.5,
) -> T:
    """Call ``probe`` until it returns a truthy value, or raise WaitTimeoutError.

    A probe may raise; the exception is remembered as the last observation and the
    wait goes on, so transient connection errors do not end the wait early.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 - recorded, re-raised as WaitTimeoutError
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(what, timeout, last)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))  # poll interval

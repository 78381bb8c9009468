"""Named phases of a drill, timed by one context manager instead of ``mark = time.monotonic()`` by hand."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Phases:
    """Seconds per completed phase, in the order they ran; a phase that raised records nothing."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.seconds[name] = time.monotonic() - started

    def rounded(self, digits: int = 3) -> dict[str, float]:
        return {name: round(seconds, digits) for name, seconds in self.seconds.items()}

"""Human-readable progress lines for long steps, on stderr so JSON on stdout stays clean."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_LINES = threading.Lock()


def say(message: str) -> None:
    """Print one progress line with a wall-clock stamp, whole even when steps run side by side."""
    line = f"[{time.strftime('%H:%M:%S')}] {message}\n"
    with _LINES:
        sys.stderr.write(line)
        sys.stderr.flush()


@contextmanager
def step(title: str) -> Iterator[None]:
    """Announce a step, then report its duration or its failure."""
    say(f"{title} ...")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"{title}: failed after {time.monotonic() - started:.1f} s")
        raise
    say(f"{title}: done in {time.monotonic() - started:.1f} s")

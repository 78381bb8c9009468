"""Benchmark the local stack's lifecycle: cold setup, warm up, no-op up, down, memory.

Prints figures; asserts nothing about them. ``--cold`` deletes the cached images and
the Toxiproxy build first, so the setup figure is a fresh machine's.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable

from harness.engine import ensure_engine
from harness.stack_ops import down, setup, up
from harness.toxiproxy_build import CACHE
from infra.images import TOXIPROXY_BINARY


def timed(label: str, action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"{label:<28} {seconds:8.1f} s", flush=True)
    return seconds


def stack_memory_mib(stack: str) -> float:
    engine = ensure_engine()
    total = 0
    for container in engine.client.containers.list(filters={"label": f"ihh.stack={stack}"}):
        stats = container.stats(stream=False)
        usage = stats["memory_stats"].get("usage", 0) - stats["memory_stats"].get("stats", {}).get("cache", 0)
        total += usage
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--cold", action="store_true", help="delete cached images and Toxiproxy first")
    args = parser.parse_args()
    engine = ensure_engine()
    down(args.stack)
    if args.cold:
        for image in engine.client.images.list():
            if any(tag.startswith("ihh/") for tag in image.tags):
                engine.client.images.remove(image.id, force=True)
        shutil.rmtree(CACHE, ignore_errors=True)
        TOXIPROXY_BINARY.unlink(missing_ok=True)
        timed("cold setup (base image, Go)", setup)
        timed("first up (role images)", lambda: up(args.stack))
        down(args.stack)
    timed("warm up (images cached)", lambda: up(args.stack))
    timed("no-op up", lambda: up(args.stack))
    print(f"{'memory of the running stack':<28} {stack_memory_mib(args.stack):8.0f} MiB", flush=True)
    timed("down", lambda: down(args.stack))


if __name__ == "__main__":
    main()

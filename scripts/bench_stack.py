"""Benchmark the local stack's lifecycle: cold setup, warm up, no-op up, down, memory.

Prints figures; asserts nothing about them. ``--cold`` deletes the cached images and
the Toxiproxy build first, so the setup figure is a fresh machine's.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import time
from collections.abc import Callable

import docker

from harness.provisioning.engine import ensure_engine
from harness.provisioning.stack_ops import down, setup, up
from harness.provisioning.toxiproxy_build import CACHE
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


def remove_image_tree(client: docker.DockerClient) -> None:
    """Delete every ``ihh/`` image and the build layers on top of it, children first."""
    images = client.images.list(all=True)
    children: dict[str, list[str]] = {}
    for image in images:
        children.setdefault(image.attrs.get("Parent") or "", []).append(image.id)

    def remove(image_id: str) -> None:
        for child in children.get(image_id, []):
            remove(child)
        with contextlib.suppress(docker.errors.ImageNotFound):  # already gone with a removed child's layers
            client.images.remove(image_id, force=True)

    for image in images:
        if any(t.startswith("ihh/base:") for t in image.tags):
            remove(image.id)
    for image in client.images.list():
        if any(t.startswith("ihh/") for t in image.tags):
            client.images.remove(image.id, force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--cold", action="store_true", help="delete cached images and Toxiproxy first")
    args = parser.parse_args()
    engine = ensure_engine()
    down(args.stack)
    if args.cold:
        remove_image_tree(engine.client)
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

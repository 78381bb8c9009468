"""The Toxiproxy server, built from its Go module at a pinned version (no binary download exists here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness.core.paths import CACHE_ROOT
from harness.core.progress import step
from infra.images import TOXIPROXY_BINARY, TOXIPROXY_MODULE, TOXIPROXY_VERSION

CACHE = CACHE_ROOT


def ensure_toxiproxy() -> Path:
    """Build once per machine into the cache, then place it in the WAN image's build context."""
    cached = CACHE / f"toxiproxy-server-{TOXIPROXY_VERSION}"
    if not cached.exists():
        if shutil.which("go") is None:
            raise RuntimeError("Go is required to build Toxiproxy's server (`go install`); install golang")
        gobin = CACHE / f"gobin-{TOXIPROXY_VERSION}"
        with step(f"go install {TOXIPROXY_MODULE}@{TOXIPROXY_VERSION}"):
            subprocess.run(
                ["go", "install", f"{TOXIPROXY_MODULE}@{TOXIPROXY_VERSION}"],
                check=True,
                env={**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0"},
            )
        (gobin / "server").rename(cached)
    if not TOXIPROXY_BINARY.exists() or TOXIPROXY_BINARY.read_bytes() != cached.read_bytes():
        TOXIPROXY_BINARY.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, TOXIPROXY_BINARY)
    return TOXIPROXY_BINARY

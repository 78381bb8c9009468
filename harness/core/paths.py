"""Where things live, and every ``IHH_*`` setting, read once here (README lists them).

Each setting has a default that works from a clean clone; the variables exist for CI
and for operators who keep state, caches or evidence elsewhere.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The project checkout: stack configs, image trees, chaos experiments, check suites."""


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser() if value else default


STACKS_DIR = _path("IHH_STACKS_DIR", REPO_ROOT / "stacks")
"""The stack configs (``Pulumi.<stack>.yaml``): the project's own, or a folder of the hospital's (its inventory)."""

STATE_ROOT = _path("IHH_STATE_DIR", REPO_ROOT / ".harness" / "stacks")
"""Per-stack private state (generated secrets, outputs, SSH key): 0700, outside git."""
EVIDENCE_ROOT = _path("IHH_EVIDENCE_DIR", REPO_ROOT / "evidence")
"""Run folders of ``harness all`` and the default output of check, chaos, restore and load."""
CACHE_ROOT = _path("IHH_CACHE_DIR", Path.home() / ".cache" / "ihh")
"""Slow-to-build artefacts kept between runs (the Toxiproxy binary)."""
DOCKERD_LOG = _path("IHH_DOCKERD_LOG", Path("/var/log/ihh-dockerd.log"))
"""Log of a Docker daemon the harness had to start itself."""
CONFIG_ROOT = _path("IHH_CONFIG_DIR", _path("XDG_CONFIG_HOME", Path.home() / ".config") / "ihh")
"""The operator's own files, which outlive every stack: the evidence signing key, trusted signers."""
EVIDENCE_KEY = _path("IHH_EVIDENCE_KEY", CONFIG_ROOT / "evidence-signing-key.pem")
"""The operator's ed25519 key that seals evidence bundles (``harness keys init``); 0600, never in a bundle."""
EVIDENCE_TRUST = _path("IHH_EVIDENCE_TRUST", CONFIG_ROOT / "trusted-evidence-signers")
"""Fingerprints ``verify-evidence`` accepts without ``--key``: one ``sha256:<hex> <name>`` a line."""
ATTESTATIONS = _path("IHH_ATTESTATIONS", STACKS_DIR / "attestations.yaml")
"""The hospital's attestations of organisational measures (harness/evidence/attestations.py has the format)."""
DEFAULT_STACK = os.environ.get("IHH_STACK", "").strip() or "local"
"""The stack a command works on when ``--stack`` is not given."""


def timestamped(kind: str, explicit: str | None = None) -> Path:
    """The output folder of one command run: ``explicit`` if given, else EVIDENCE_ROOT/<kind>/<UTC time>."""
    if explicit:
        return Path(explicit)
    return EVIDENCE_ROOT / kind / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


RUN_SNAPSHOT_DIR = "stack"
"""Sub-folder of a run folder with what the run was made against: graph.json, outputs.json, provenance.json."""

"""What a run was made against, saved into the run folder when it starts.

The report is built from the run folder alone: the applied resource graph (without
secrets), the public outputs and the provenance (project commit, stack config hash,
tool versions, machine) are written here at the start, so ``harness report DIR`` gives
the same bundle after ``harness down``, on another machine, or for an assessor.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.core.graph import to_public_json
from harness.core.outputs import StackOutputs
from harness.core.paths import REPO_ROOT, RUN_SNAPSHOT_DIR, STACKS_DIR
from harness.core.state import graph_path
from harness.provisioning.mockrun import ProgramRun

TOOLS = ("pulumi", "pulumi-docker", "locust", "psycopg", "paramiko", "scipy", "matplotlib")


def save_applied_graph(stack: str, run: ProgramRun) -> Path:
    """After ``up``: the graph that was applied, kept in the stack's state for every later run."""
    path = graph_path(stack)
    path.write_text(json.dumps(to_public_json(run.graph), indent=1, sort_keys=True))
    return path


def provenance(stack: str) -> dict[str, Any]:
    """Where the run came from: commit, whether the tree was modified, the stack config's hash, tools, machine."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        return result.stdout.strip()

    config = STACKS_DIR / f"Pulumi.{stack}.yaml"
    versions: dict[str, str | None] = {}
    for package in TOOLS:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "captured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "project_commit": git("rev-parse", "HEAD"),
        "project_tree_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "stack_config_sha256": hashlib.sha256(config.read_bytes()).hexdigest() if config.exists() else None,
        "tool_versions": {"python": platform.python_version(), **versions},
        "machine": {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
                    "cpus": os.cpu_count(),
                    "hostname_sha256": hashlib.sha256(platform.node().encode()).hexdigest()[:16]},
    }


def snapshot(stack: str, run_dir: Path) -> Path:
    """Copy the applied graph and the public outputs into the run, with its provenance; the folder written."""
    source = graph_path(stack)
    if not source.exists():
        raise FileNotFoundError(f"stack {stack!r} has no applied graph at {source}: run `harness --stack {stack} up`")
    folder = run_dir / RUN_SNAPSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "graph.json").write_text(source.read_text())
    outputs = StackOutputs.load(stack)
    (folder / "outputs.json").write_text(json.dumps(outputs.public(), indent=2, sort_keys=True))
    (folder / "provenance.json").write_text(json.dumps(provenance(stack), indent=2))
    return folder

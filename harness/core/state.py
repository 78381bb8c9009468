"""Where the harness keeps a stack's state on disk: generated secrets and resolved outputs.

Both files hold secrets, so they are written 0600 into a 0700 folder, outside git.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from harness.core.paths import STATE_ROOT


def stack_dir(stack: str) -> Path:
    """The stack's private folder, created 0700."""
    path = STATE_ROOT / stack
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` so that only the owner can ever read it (no window with wider rights)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)
    return path


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def generated_state(stack: str) -> dict[str, Any]:
    return load_json(stack_dir(stack) / "generated.json")


def save_generated_state(stack: str, state: dict[str, Any]) -> None:
    write_private(stack_dir(stack) / "generated.json", json.dumps(state, indent=1, sort_keys=True))


def instance_id(stack: str) -> str:
    """The id of this making of the stack, made with its state and gone with it: the engine's objects carry it, so
    an ``up`` tells its own data from another checkout's stack of the same name."""
    path = stack_dir(stack) / "instance"
    if not path.exists():
        write_private(path, secrets.token_hex(8) + "\n")
    return path.read_text().strip()


def has_generated_state(stack: str) -> bool:
    return bool(generated_state(stack))


def outputs_path(stack: str) -> Path:
    return stack_dir(stack) / "outputs.json"


def forget(stack: str) -> None:
    """Drop the stack's state after ``down``, as ``pulumi destroy`` drops generated secrets."""
    folder = STATE_ROOT / stack
    if folder.exists():
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def graph_path(stack: str) -> Path:
    """The applied resource graph, without secrets (``harness.core.graph.to_public_json``)."""
    return stack_dir(stack) / "graph.json"

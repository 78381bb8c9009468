"""A YAML file that holds a list of entries, each read with the line it starts on, for errors that name it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def yaml_list_entries(path: Path, error: type[Exception], what: str) -> list[tuple[str, Any]]:
    """``(where, entry)`` for each entry, ``where`` as ``file:line``; [] for a missing or empty file.

    Invalid YAML or a file that is not a list raises ``error`` naming the file (and line).
    """
    if not path.exists():
        return []
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise error(f"{path}:{root.start_mark.line + 1}: the file must be a list of {what}")
    return [(f"{path}:{node.start_mark.line + 1}", yaml.safe_load(yaml.serialize(node))) for node in root.value]

"""The requirement catalogue, shipped as data with the IDs every report must use."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

METHODS = frozenset({"policy", "host", "chaos", "load", "restore", "backups", "report", "organisational"})


@dataclass(frozen=True)
class Requirement:
    """One requirement: its stable ID, how it is verified, and its text in English and Chinese."""

    id: str
    methods: tuple[str, ...]
    en: str
    zh: str


def load_catalogue() -> list[Requirement]:
    """Every requirement, in catalogue order; a malformed entry is an error naming its position."""
    raw = yaml.safe_load(resources.files("harness.data").joinpath("requirements.yaml").read_text(encoding="utf-8"))
    catalogue: list[Requirement] = []
    for index, entry in enumerate(raw):
        unknown = set(entry.get("methods", [])) - METHODS
        if unknown or not entry.get("id") or not entry.get("en") or not entry.get("zh"):
            raise ValueError(f"requirements.yaml entry {index}: needs id, methods from {sorted(METHODS)}, en, zh")
        catalogue.append(Requirement(entry["id"], tuple(entry["methods"]), entry["en"], entry["zh"]))
    ids = [r.id for r in catalogue]
    if len(ids) != len(set(ids)):
        raise ValueError("requirements.yaml: duplicate requirement IDs")
    return catalogue

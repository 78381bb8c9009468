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


@dataclass(frozen=True)
class Control:
    """An MLPS 2.0 level-3 control point (GB/T 22239-2019) and the catalogue requirements that speak to it."""

    id: str
    zh: str
    en: str
    requirements: tuple[str, ...]


def load_controls() -> list[Control]:
    """Every control point in clause order; a mapping to an unknown requirement or control is an error."""
    raw = yaml.safe_load(resources.files("harness.data").joinpath("mlps-controls.yaml").read_text(encoding="utf-8"))
    ids = {r.id for r in load_catalogue()}
    unknown = set(raw["requirements"]) - ids
    if unknown:
        raise ValueError(f"mlps-controls.yaml: requirements not in the catalogue: {', '.join(sorted(unknown))}")
    unmapped = ids - set(raw["requirements"])
    if unmapped:
        raise ValueError(f"mlps-controls.yaml: requirements without control points: {', '.join(sorted(unmapped))}")
    by_control: dict[str, list[str]] = {}
    for requirement, controls in raw["requirements"].items():
        for control in controls:
            if control not in raw["controls"]:
                raise ValueError(f"mlps-controls.yaml: {requirement} names unknown control point {control}")
            by_control.setdefault(control, []).append(requirement)

    def clause(control: str) -> tuple[int, ...]:
        return tuple(int(p) for p in control.split("."))

    return [Control(c, raw["controls"][c]["zh"], raw["controls"][c]["en"], tuple(by_control.get(c, ())))
            for c in sorted(raw["controls"], key=clause)]


def controls_by_requirement(controls: list[Control]) -> dict[str, list[str]]:
    """Each requirement's control points, in clause order: the inverse of ``Control.requirements``."""
    mapping: dict[str, list[str]] = {}
    for control in controls:
        for requirement in control.requirements:
            mapping.setdefault(requirement, []).append(control.id)
    return mapping

"""The catalogue in the repo carries every requirement ID of the digest, with the same methods."""

from __future__ import annotations

import re

from chaos.experiment import find_experiments
from harness.core.paths import REPO_ROOT
from harness.evidence.catalogue import load_catalogue, load_controls
from harness.evidence.verdicts import FIXED_SOURCES
from infra.policy.rules import rule_requirements

DIGEST_IDS = [
    "GD-1.2.1", "GD-1.2.3a", "GD-1.2.3b", "GD-1.2.3c", "GD-1.2.4", "GD-1.2.5", "GD-2.2.3", "GD-3.2.1", "GD-3.2.3",
    "GD-4.3",
    "EH-1.1.2", "EH-1.2.1", "EH-1.2.3", "EH-1.2.4", "EH-2.2.1", "EH-2.2.2", "EH-2.2.3", "EH-3.3.2",
    "TM-5.2", "TM-5.3", "TM-5.4", "TM-5.5", "TM-7.3", "OP-5.3", "OP-7.2",
]


def test_every_digest_id_is_in_the_catalogue_once() -> None:
    assert [r.id for r in load_catalogue()] == DIGEST_IDS


def test_every_entry_is_bilingual_with_methods() -> None:
    for requirement in load_catalogue():
        assert requirement.methods, requirement.id
        assert requirement.en.isascii(), requirement.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in requirement.zh), requirement.id


def _host_check_requirements() -> set[str]:
    """Every requirement ID a host check is marked with, read from the suites' markers."""
    found: set[str] = set()
    for suite in (REPO_ROOT / "checks" / "suites").glob("test_*.py"):
        for marker in re.finditer(r"requirements\(([^)]*)\)", suite.read_text()):
            found |= set(re.findall(r'"([A-Z]{2}-[0-9.]+[a-z]?)"', marker.group(1)))
    return found


def test_each_method_the_catalogue_names_produces_evidence_for_it() -> None:
    """A method listed but never producing evidence would keep a requirement partial forever; one producing
    evidence but not listed would be judged without the catalogue saying how the requirement is verified."""
    producers = {"policy": set(rule_requirements()), "host": _host_check_requirements(),
                 "chaos": {r for e in find_experiments([]) for r in e.requirements},
                 **{method: set(ids) for method, ids in FIXED_SOURCES.items()}}
    for requirement in load_catalogue():
        listed = set(requirement.methods) - {"organisational"}
        actual = {method for method, ids in producers.items() if requirement.id in ids}
        assert listed == actual, f"{requirement.id}: catalogue lists {sorted(listed)}, evidence comes from " \
                                 f"{sorted(actual)}"


def test_every_requirement_names_its_mlps_control_points() -> None:
    controls = load_controls()
    assert {r for c in controls for r in c.requirements} == set(DIGEST_IDS)
    assert all(c.id.startswith("8.") and c.zh and c.en for c in controls)

"""The catalogue in the repo carries every requirement ID of the digest, with the same methods."""

from __future__ import annotations

from harness.evidence.catalogue import load_catalogue

DIGEST_IDS = [
    "GD-1.2.1", "GD-1.2.3a", "GD-1.2.3b", "GD-1.2.3c", "GD-1.2.4", "GD-1.2.5", "GD-2.2.3", "GD-3.2.3", "GD-4.3",
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

"""Waiver files: valid entries load; an expired or malformed one is an error naming its line."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from checks.waivers import WaiverError, load_waivers

TODAY = datetime.date(2026, 11, 24)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


def test_valid_waiver_covers_its_check_and_hosts(tmp_path: Path) -> None:
    path = write(tmp_path, "- check: common::test_clock_agrees_with_control_machine\n"
                           "  host: turn-*\n  justification: NTP migration, OPS-1\n  expires: 2026-12-31\n")
    [waiver] = load_waivers(path, TODAY)
    assert waiver.covers("common::test_clock_agrees_with_control_machine", "turn-2")
    assert not waiver.covers("common::test_clock_agrees_with_control_machine", "db-1")
    assert not waiver.covers("common::test_sshd_is_key_only", "turn-2")


def test_committed_waiver_file_is_valid() -> None:
    assert load_waivers(Path("checks/waivers.yaml"), TODAY) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- check: a::b\n  justification: x\n  expires: 2026-11-01\n", ":1: waiver of a::b expired on 2026-11-01"),
        ("- check: a::b\n  justification: x\n  expires: 2027-01-01\n- check: c::d\n  expires: 2027-01-01\n",
         ":4: field 'justification' is required"),
        ("- check: a::b\n  justification: x\n  expires: soon\n", ":1: expires must be a date"),
        ("- check: ab\n  justification: x\n  expires: 2027-01-01\n", ":1: check must read <suite>::<test>"),
        ("- check: a::b\n  justification: x\n  expires: 2027-01-01\n  owner: me\n", ":1: unknown field(s) owner"),
        ("check: a::b\n", ":1: the file must be a list"),
    ],
)
def test_bad_waiver_names_its_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(WaiverError) as error:
        load_waivers(write(tmp_path, text), TODAY)
    assert message in str(error.value), str(error.value)

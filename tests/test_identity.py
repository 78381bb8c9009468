"""GB 11643 resident ID numbers and mobile numbers, as patient registration checks them."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from ihh_service.identity import check_character, mobile_problem, resident_id_problem

from loadtests.identities import mobile, resident_id


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])
def test_the_standards_own_examples_are_valid(number: str) -> None:
    assert check_character(number[:17]) == number[17]
    assert resident_id_problem(number) is None


def test_a_lower_case_x_is_accepted() -> None:
    assert resident_id_problem("11010519491231002x") is None


@pytest.mark.parametrize(("number", "complaint"), [
    ("110105194912310021", "check digit is 1, GB 11643 gives X"),
    ("11010519491231002", "must be 18 characters, got 17"),
    ("1101051949123100AX", "must be 17 digits followed by a digit or X"),
    ("990105194912310021", "region code 990105 names no province"),
    ("110105194902300021", "birth date 19490230 is not a calendar date"),
    ("110105209912310021", "birth date 2099-12-31 is out of range"),
])
def test_invalid_numbers_say_why(number: str, complaint: str) -> None:
    assert resident_id_problem(number, today=dt.date(2026, 11, 24)) == complaint


def test_every_single_digit_change_is_caught() -> None:
    """The check digit's purpose: any one mistyped digit is detected."""
    valid = "11010519491231002X"
    for position in range(17):
        for digit in "0123456789":
            if digit != valid[position]:
                changed = valid[:position] + digit + valid[position + 1:]
                assert resident_id_problem(changed) is not None, changed


def test_generated_identities_pass_the_service_checks() -> None:
    rng = random.Random(7)
    for _ in range(500):
        assert resident_id_problem(resident_id(rng)) is None
        assert mobile_problem(mobile(rng)) is None


@pytest.mark.parametrize(("value", "ok"), [
    ("13800138000", True), ("+86 138-0013-8000", True), ("12800138000", False), ("1380013800", False),
    ("138001380001", False), ("abc", False),
])
def test_mobile_numbers(value: str, ok: bool) -> None:
    assert (mobile_problem(value) is None) is ok

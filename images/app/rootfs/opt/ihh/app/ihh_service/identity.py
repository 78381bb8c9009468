"""Identity checks for patient registration: mainland resident ID numbers (GB 11643) and mobile numbers."""

from __future__ import annotations

import datetime as dt
import re

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
"""GB 11643-1999: the check character is this string indexed by (weighted sum of the 17 digits) mod 11."""
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82",
})
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def check_character(first17: str) -> str:
    """The 18th character of a resident ID number whose first 17 digits are given."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("the check character is computed over exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def resident_id_problem(value: str, today: dt.date | None = None) -> str | None:
    """Why ``value`` is not a valid resident ID number, or None when it is."""
    if len(value) != 18:
        return f"must be 18 characters, got {len(value)}"
    body, last = value[:17], value[17].upper()
    if not body.isdigit() or not (last.isdigit() or last == "X"):
        return "must be 17 digits followed by a digit or X"
    if body[:2] not in PROVINCE_CODES:
        return f"region code {body[:6]} names no province"
    try:
        born = dt.date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return f"birth date {body[6:14]} is not a calendar date"
    if not dt.date(1870, 1, 1) <= born <= (today or dt.date.today()):
        return f"birth date {born.isoformat()} is out of range"
    expected = check_character(body)
    if last != expected:
        return f"check digit is {last}, GB 11643 gives {expected}"
    return None


def mobile_problem(value: str) -> str | None:
    """Why ``value`` is not a mainland mobile number (11 digits starting 13-19), or None when it is."""
    digits = value.removeprefix("+86").replace(" ", "").replace("-", "")
    if not MOBILE.match(digits):
        return "must be a mainland mobile number: 11 digits starting with 13 to 19"
    return None


def normalise_mobile(value: str) -> str:
    """The 11-digit form stored for a valid mobile number."""
    return value.removeprefix("+86").replace(" ", "").replace("-", "")

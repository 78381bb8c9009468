"""Synthetic but valid patient identities, checked by the same GB 11643 code the service runs."""

from __future__ import annotations

import random
import sys
from pathlib import Path

SERVICE_SOURCE = Path(__file__).resolve().parents[1] / "images" / "app" / "rootfs" / "opt" / "ihh" / "app"
if str(SERVICE_SOURCE) not in sys.path:
    sys.path.append(str(SERVICE_SOURCE))

from ihh_service.identity import check_character  # noqa: E402 - the service's package lives in its image tree

REGIONS = ("110101", "310104", "440305", "510107", "330106", "420102")


def resident_id(rng: random.Random) -> str:
    """A resident ID number with a real region code, a plausible birth date and the right check digit."""
    first17 = (
        f"{rng.choice(REGIONS)}{rng.randint(1950, 2005):04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        f"{rng.randint(0, 999):03d}"
    )
    return first17 + check_character(first17)


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"

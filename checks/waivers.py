"""Waivers: a failing check with a justified, unexpired waiver is reported as ``waived``.

File format (YAML list); every entry names the check, a justification and an expiry:

    - check: common::test_clock_agrees_with_control_machine
      host: turn-2            # optional; default every host
      justification: NTP is being replaced this week, ticket OPS-123
      expires: 2026-12-31

An expired or malformed entry is an error naming its line, and no check runs.
"""

from __future__ import annotations

import datetime
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from harness.core.yaml_list import yaml_list_entries

FIELDS = {"check", "host", "justification", "expires"}


class WaiverError(ValueError):
    """A waiver file entry is malformed or expired; the message names file and line."""


@dataclass(frozen=True)
class Waiver:
    """One accepted exception to one check, on one host or on all."""

    check: str
    host: str
    justification: str
    expires: datetime.date
    line: int

    def covers(self, check: str, host: str) -> bool:
        return self.check == check and fnmatch.fnmatch(host, self.host)


def load_waivers(path: Path, today: datetime.date | None = None) -> list[Waiver]:
    """Parse and validate every entry; raise WaiverError on the first bad one."""
    today = today or datetime.date.today()
    waivers = []
    for where, entry in yaml_list_entries(path, WaiverError, "waivers"):
        line = int(where.rsplit(":", 1)[1])
        if not isinstance(entry, dict):
            raise WaiverError(f"{where}: a waiver must be a mapping with {', '.join(sorted(FIELDS))}")
        unknown = set(entry) - FIELDS
        if unknown:
            raise WaiverError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for field in ("check", "justification", "expires"):
            if not entry.get(field):
                raise WaiverError(f"{where}: field {field!r} is required")
        if "::" not in str(entry["check"]):
            raise WaiverError(f"{where}: check must read <suite>::<test>, got {entry['check']!r}")
        expires = entry["expires"]
        if not isinstance(expires, datetime.date):
            raise WaiverError(f"{where}: expires must be a date (YYYY-MM-DD), got {expires!r}")
        if expires < today:
            raise WaiverError(f"{where}: waiver of {entry['check']} expired on {expires.isoformat()}")
        waivers.append(Waiver(str(entry["check"]), str(entry.get("host", "*")), str(entry["justification"]),
                              expires, line))
    return waivers

"""Backups into every repository, and verification of what each repository holds.

Run on the repository hosts (pgBackRest backs up from there, reaching the database
hosts over its TLS protocol), through SSH by the host names in the stack's outputs.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from checks.ssh import connect, run
from harness.outputs import StackOutputs

BackupType = Literal["full", "diff", "incr"]
PGBACKREST = "sudo runuser -u pgbackrest -- pgbackrest --stanza=main"


@dataclass(frozen=True)
class BackupRecord:
    """One backup taken: where, which kind, its label, its size and how long it took."""

    site: str
    repository: int
    type: str
    label: str
    database_bytes: int
    repository_bytes: int
    seconds: float


@dataclass(frozen=True)
class Verification:
    """What ``pgbackrest verify`` found in one repository."""

    site: str
    repository: int
    ok: bool
    problems: list[str]


def backup(outputs: StackOutputs, site: dict, kind: BackupType) -> BackupRecord:
    """Take a backup of ``kind`` into the site's repository and describe it."""
    client = connect(outputs, site["host"])
    try:
        started = time.monotonic()
        run(client, site["host"], f"{PGBACKREST} --repo={site['repository']} --type={kind} backup",
            timeout_s=4 * 3600)
        seconds = time.monotonic() - started
        info = json.loads(run(client, site["host"], f"{PGBACKREST} --repo={site['repository']} info --output=json"
                              ).stdout)[0]["backup"][-1]
    finally:
        client.close()
    return BackupRecord(site["name"], site["repository"], info["type"], info["label"], int(info["info"]["size"]),
                        int(info["info"]["repository"]["delta"]), round(seconds, 3))


def verify(outputs: StackOutputs, site: dict) -> Verification:
    """Check every file of the repository against its recorded checksum; problems name the file."""
    client = connect(outputs, site["host"])
    try:
        result = run(client, site["host"], f"{PGBACKREST} --repo={site['repository']} --log-level-console=warn "
                     "verify", timeout_s=4 * 3600, check=False)
    finally:
        client.close()
    text = f"{result.stdout}\n{result.stderr}"
    problems = [line.strip() for line in text.splitlines()
                if re.search(r"invalid|checksum|missing|error|corrupt", line, re.IGNORECASE)]
    return Verification(site["name"], site["repository"], result.exit_code == 0 and not problems, problems)

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

from harness.core.outputs import StackOutputs
from harness.core.ssh import connect, run

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


PROBLEM = re.compile(r"(invalid checksum|missing|invalid size|ERROR:)\s*'?([^']*)'?", re.IGNORECASE)


def verify(outputs: StackOutputs, site: dict) -> Verification:
    """Check every file of the repository against its recorded checksum; each problem names its file.

    pgBackRest 2.45 exits 0 even when files fail; it says so at INFO level
    ("invalid checksum '<file>'", "status: error"), which is what is read here.
    """
    client = connect(outputs, site["host"])
    try:
        result = run(client, site["host"], f"{PGBACKREST} --repo={site['repository']} --log-level-console=info "
                     "verify", timeout_s=4 * 3600, check=False)
    finally:
        client.close()
    text = f"{result.stdout}\n{result.stderr}"
    problems = [f"{m.group(1)} {m.group(2)}".strip() for m in PROBLEM.finditer(text)]
    failed = result.exit_code != 0 or "status: error" in text or bool(problems)
    return Verification(site["name"], site["repository"], not failed, problems)

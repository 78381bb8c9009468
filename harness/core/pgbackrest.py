"""A client of pgBackRest on the stack's hosts, over SSH: backups, ``info``, ``verify``, restore, reachability.

Backups and ``info`` run on a repository host as ``pgbackrest`` (it reaches the database
hosts over pgBackRest's TLS protocol); restore and reachability run on a database host
as ``postgres``. Every command names the stanza from the outputs and the copy's
repository number.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from harness.core.outputs import BackupSite, StackOutputs
from harness.core.ssh import Sessions
from harness.core.waiting import wait_for

BackupType = Literal["full", "diff", "incr"]
REACH_TIMEOUT_S = 10
UNKNOWN_STATUS = 99
"""pgBackRest's info status "other": the repository could not be read."""
READY_STATUSES = (0, 2)
"""ok, and "no valid backups": the stanza exists and the repository answers."""
PROBLEM = re.compile(r"(invalid checksum|missing|invalid size|ERROR:)\s*'?([^']*)'?", re.IGNORECASE)
LONG_S = 4 * 3600
"""Bound on a backup, restore or verify: generous for production sizes, never unbounded."""


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


class PgBackRest:
    """pgBackRest commands for one stack, run through shared SSH sessions."""

    def __init__(self, outputs: StackOutputs, ssh: Sessions) -> None:
        self.outputs, self.ssh = outputs, ssh
        self.stanza = outputs.database.stanza

    def _on_repository_host(self, site: BackupSite, command: str, timeout_s: float = 600,
                            check: bool = True) -> str:
        return self.ssh.run(site.host, f"runuser -u pgbackrest -- pgbackrest --stanza={self.stanza} "
                            f"--repo={site.repository} {command}", timeout_s=timeout_s, check=check)

    def _on_database_host(self, member: str, repository: int, command: str, timeout_s: float = 600,
                          check: bool = True) -> str:
        return self.ssh.run(member, f"runuser -u postgres -- pgbackrest --stanza={self.stanza} "
                            f"--repo={repository} {command}", timeout_s=timeout_s, check=check)

    def info(self, site: BackupSite, label: str | None = None) -> dict[str, Any]:
        """``info --output=json`` of the stanza in the site's repository (one backup set with ``label``)."""
        option = f"--set={label} " if label else ""
        return json.loads(self._on_repository_host(site, f"{option}info --output=json"))[0]

    def latest_backup(self, site: BackupSite) -> dict[str, Any]:
        backups = self.info(site).get("backup") or []
        if not backups:
            raise RuntimeError(f"repository {site.repository} at {site.name} holds no backup")
        return dict(backups[-1])

    def archive_reach(self, site: BackupSite) -> str:
        """The newest WAL segment the site's repository holds ("" when none)."""
        archive = self.info(site).get("archive") or []
        return max((a.get("max") or "" for a in archive), default="")

    def wait_stanza_ready(self, site: BackupSite, timeout_s: float = 180) -> None:
        wait_for(f"stanza ready in repository {site.repository}",
                 lambda: int(self.info(site)["status"]["code"]) in READY_STATUSES, timeout=timeout_s, interval=1.0)

    def backup(self, site: BackupSite, kind: BackupType) -> BackupRecord:
        """Take a backup of ``kind`` into the site's repository and describe it."""
        started = time.monotonic()
        self._on_repository_host(site, f"--type={kind} backup", timeout_s=LONG_S)
        seconds = time.monotonic() - started
        info = self.latest_backup(site)
        return BackupRecord(site.name, site.repository, info["type"], info["label"], int(info["info"]["size"]),
                            int(info["info"]["repository"]["delta"]), round(seconds, 3))

    def verify(self, site: BackupSite) -> Verification:
        """Check every file of the repository against its recorded checksum; each problem names its file.

        pgBackRest 2.45 exits 0 even when files fail; it says so at INFO level
        ("invalid checksum '<file>'", "status: error"), which is what is read here.
        """
        result = self.ssh.result(site.host, f"runuser -u pgbackrest -- pgbackrest --stanza={self.stanza} "
                                 f"--repo={site.repository} --log-level-console=info verify", timeout_s=LONG_S)
        text = f"{result.stdout}\n{result.stderr}"
        problems = [f"{m.group(1)} {m.group(2)}".strip() for m in PROBLEM.finditer(text)]
        failed = result.exit_code != 0 or "status: error" in text or bool(problems)
        return Verification(site.name, site.repository, not failed, problems)

    def repository_answers(self, member: str, repository: int) -> bool:
        """Whether ``member`` reaches the repository over pgBackRest's TLS protocol within REACH_TIMEOUT_S.

        An answer is any status the repository reports (even "no valid backups", code 2);
        a cut-off repository gives none: pgBackRest keeps retrying until the timeout ends it.
        """
        raw = self.ssh.run(member, f"timeout {REACH_TIMEOUT_S} runuser -u postgres -- pgbackrest "
                           f"--stanza={self.stanza} --repo={repository} info --output=json",
                           check=False, timeout_s=REACH_TIMEOUT_S + 30)
        try:
            return int(json.loads(raw)[0]["status"]["code"]) != UNKNOWN_STATUS
        except (ValueError, LookupError, TypeError):
            return False

    def restore(self, member: str, site: BackupSite) -> None:
        """Restore the latest backup of the site's copy into ``member``'s empty data directory."""
        self._on_database_host(member, site.repository, "restore", timeout_s=LONG_S)


def verify_site(outputs: StackOutputs, site: BackupSite) -> Verification:
    """``pgbackrest verify`` of one copy with sessions of its own (for callers that hold none)."""
    with Sessions(outputs) as ssh:
        return PgBackRest(outputs, ssh).verify(site)


def switch_wal(ssh: Sessions, leader: str) -> str:
    """Close the primary's current WAL segment so it is archived now; returns its name."""
    return ssh.run(leader, "runuser -u postgres -- psql -XAtc 'select pg_walfile_name(pg_switch_wal())'").strip()


def wait_archived(pgbackrest: PgBackRest, site: BackupSite, segment: str, timeout_s: float = 120) -> None:
    """Until the site's repository holds WAL up to ``segment`` (compared by log and segment number)."""
    wait_for(f"WAL {segment} archived in repository {site.repository}",
             lambda: pgbackrest.archive_reach(site)[-16:] >= segment[-16:], timeout=timeout_s)

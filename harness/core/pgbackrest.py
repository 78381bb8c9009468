"""A client of pgBackRest on the stack's hosts, over SSH: backups, ``info``, ``verify``, restore, reachability.

Backups and ``info`` run on a repository host as ``pgbackrest`` (it reaches the database
hosts over pgBackRest's TLS protocol); restore and reachability run on a database host
as ``postgres``. Every command names the stanza from the outputs and the copy's
repository number.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.core.outputs import BackupSchedule, BackupSite, StackOutputs
from harness.core.postgres_shell import AS_POSTGRES, psql
from harness.core.ssh import RemoteCommandError, Result, Sessions
from harness.core.waiting import WaitTimeoutError, wait_for
from infra.backup_sites import SCHEDULE_LOG, SCHEDULE_PATH
from infra.database import PGBACKREST_TLS_PORT

BackupType = Literal["full", "diff", "incr"]
REACH_TIMEOUT_S = 10
UNKNOWN_STATUS = 99
"""pgBackRest's info status "other": the repository could not be read."""
READY_STATUSES = (0, 2)
"""ok, and "no valid backups": the stanza exists and the repository answers."""
PROBLEM = re.compile(r"(invalid checksum|missing|invalid size|ERROR:)\s*'?([^']*)'?", re.IGNORECASE)
LONG_S = 4 * 3600
"""Bound on a backup, restore or verify: generous for production sizes, never unbounded."""
LOCK_BUSY = 50
"""pgBackRest's exit code when another backup or expire holds the stanza's lock (the copy's own timer, say)."""
BUSY_WAIT_S = 15 * 60


def lock_busy(exit_code: int, output: str) -> bool:
    """Whether a pgBackRest run failed only because another process held a lock it needs.

    The copy's own lock gives exit 50. The database host's backup lock is shared by every copy (each
    repository host's backup takes it there), and when the other copy's backup holds it pgBackRest
    warns "unable to check pg1: [LockAcquireError]" and exits 56 ("unable to find primary cluster").
    """
    return exit_code == LOCK_BUSY or (exit_code != 0 and "LockAcquireError" in output)


class BackupBusyError(RuntimeError):
    """Another backup held the copy's lock for longer than BUSY_WAIT_S."""


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
        return self.ssh.run(member, f"{AS_POSTGRES} pgbackrest --stanza={self.stanza} "
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

    def ensure_full_backup(self, site: BackupSite) -> BackupRecord | None:
        """A full backup in the copy if it holds none (a new cluster); None when it already holds one."""
        self.wait_stanza_ready(site, timeout_s=900)
        return self._backup(site, "full", unless=lambda: self.has_full(site))

    def has_full(self, site: BackupSite) -> bool:
        return any(b["type"] == "full" for b in self.info(site).get("backup") or [])

    def wait_stanza_ready(self, site: BackupSite, timeout_s: float = 180) -> None:
        wait_for(f"stanza ready in repository {site.repository}",
                 lambda: int(self.info(site)["status"]["code"]) in READY_STATUSES, timeout=timeout_s, interval=1.0)

    def backup(self, site: BackupSite, kind: BackupType) -> BackupRecord:
        """Take a backup of ``kind`` into the site's repository and describe it."""
        record = self._backup(site, kind)
        if record is None:
            raise AssertionError("a backup without a condition is always taken")
        return record

    def _backup(self, site: BackupSite, kind: BackupType, unless: Callable[[], bool] | None = None
                ) -> BackupRecord | None:
        """Take a backup of ``kind`` into the site's repository and describe it.

        While another backup holds the copy's lock (its own timer, say) or the database host's (the other
        copy's backup) this waits, up to BUSY_WAIT_S;
        with ``unless``, it takes none (and returns None) once ``unless()`` holds, checked before each try.
        """
        command = (f"runuser -u pgbackrest -- pgbackrest --stanza={self.stanza} --repo={site.repository} "
                   f"--type={kind} backup")
        started = time.monotonic()

        def attempt() -> Result | str | None:
            if unless is not None and unless():
                return "not needed"
            result = self.ssh.result(site.host, command, timeout_s=LONG_S)
            return None if lock_busy(result.exit_code, result.stderr + result.stdout) else result

        try:
            outcome = wait_for(f"the {kind} backup into {site.name} (another backup holds its lock)", attempt,
                               timeout=BUSY_WAIT_S, interval=5.0)
        except WaitTimeoutError as exc:
            raise BackupBusyError(str(exc)) from exc
        if isinstance(outcome, str):
            return None
        if outcome.exit_code != 0:
            raise RemoteCommandError(f"{site.host}: {kind} backup exited {outcome.exit_code}: "
                                     f"{outcome.stderr.strip()[-800:]}")
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
        raw = self.ssh.run(member, f"timeout {REACH_TIMEOUT_S} {AS_POSTGRES} pgbackrest "
                           f"--stanza={self.stanza} --repo={repository} info --output=json",
                           check=False, timeout_s=REACH_TIMEOUT_S + 30)
        try:
            return int(json.loads(raw)[0]["status"]["code"]) != UNKNOWN_STATUS
        except (ValueError, LookupError, TypeError):
            return False

    def port_refused(self, member: str, site: BackupSite, timeout_s: float = 3) -> bool:
        """Whether ``member``'s TCP connection to the copy's pgBackRest port fails (refused, or no handshake within
        ``timeout_s``): the quick proof a copy is cut off; a copy that answers completes a handshake at once."""
        result = self.ssh.result(member, f"timeout {timeout_s:g} bash -c "
                                 f"'exec 3<>/dev/tcp/{site.host}/{PGBACKREST_TLS_PORT}'", timeout_s=timeout_s + 30,
                                 root=False)  # a connection attempt needs no privilege
        return result.exit_code != 0

    def restore(self, member: str, site: BackupSite) -> None:
        """Restore the latest backup of the site's copy into ``member``'s empty data directory.

        ``--link-all``: PGDATA/pg_wal is a link to the WAL disk, and by default pgBackRest restores links as
        plain directories, which would put the WAL back on the data volume.
        """
        self._on_database_host(member, site.repository, "restore --link-all", timeout_s=LONG_S)


def verify_site(outputs: StackOutputs, site: BackupSite) -> Verification:
    """``pgbackrest verify`` of one copy with sessions of its own (for callers that hold none)."""
    with Sessions(outputs) as ssh:
        return PgBackRest(outputs, ssh).verify(site)


def switch_wal(ssh: Sessions, leader: str) -> str:
    """Close the primary's current WAL segment so it is archived now; returns its name."""
    return ssh.run(leader, psql("select pg_walfile_name(pg_switch_wal())")).strip()


def wait_archived(pgbackrest: PgBackRest, site: BackupSite, segment: str, timeout_s: float = 120) -> None:
    """Until the site's repository holds WAL up to ``segment`` (compared by log and segment number)."""
    wait_for(f"WAL {segment} archived in repository {site.repository}",
             lambda: pgbackrest.archive_reach(site)[-16:] >= segment[-16:], timeout=timeout_s)


@dataclass(frozen=True)
class CopyFreshness:
    """How current one copy is at the time it was read: its newest backups, its reach, its own timer's record."""

    site: str
    repository: int
    measured_at: float
    last_full_at: float | None
    last_backup_at: float | None
    last_backup_type: str | None
    oldest_restorable_at: float | None
    backups: int
    archive_min: str
    archive_max: str
    scheduled: dict[str, Any]
    """Runs of the copy's own timer from its log: counts by status and the last run."""
    missed_periods: int
    """Incremental periods (beyond the slack) in which the copy took no backup at all, over its history."""
    stale: list[str]
    """Why the copy is stale under the schedule (empty: fresh)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def host_schedule(ssh: Sessions, site: BackupSite) -> BackupSchedule:
    """The schedule the copy's own timer runs, as its host holds it (what freshness is judged against)."""
    raw = json.loads(ssh.run(site.host, f"cat {SCHEDULE_PATH}"))
    return BackupSchedule.parse(raw, f"{site.host}:{SCHEDULE_PATH}")


def schedule_runs(ssh: Sessions, site: BackupSite) -> list[dict[str, Any]]:
    """The copy's own timer's log: one record per run (empty before its first)."""
    text = ssh.run(site.host, f"cat {SCHEDULE_LOG}", check=False)  # none before the timer's first run
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def freshness(pgbackrest: PgBackRest, site: BackupSite) -> CopyFreshness:
    """Read the copy now: newest full and newest backup against the schedule its host runs, archive, timer record."""
    schedule = host_schedule(pgbackrest.ssh, site)
    info = pgbackrest.info(site)
    backups = info.get("backup") or []
    now = time.time()

    def newest(*kinds: str) -> dict[str, Any] | None:
        matching = [b for b in backups if b["type"] in kinds]
        return max(matching, key=lambda b: b["timestamp"]["stop"]) if matching else None

    full, latest = newest("full"), newest("full", "diff", "incr")
    archive = info.get("archive") or []
    runs = schedule_runs(pgbackrest.ssh, site)
    counts = {status: sum(1 for r in runs if r.get("status") == status) for status in ("ok", "failed", "busy")}
    return CopyFreshness(
        site=site.name, repository=site.repository, measured_at=round(now, 3),
        last_full_at=full["timestamp"]["stop"] if full else None,
        last_backup_at=latest["timestamp"]["stop"] if latest else None,
        last_backup_type=latest["type"] if latest else None,
        oldest_restorable_at=min((b["timestamp"]["stop"] for b in backups), default=None),
        backups=len(backups),
        archive_min=min((a.get("min") or "" for a in archive), default=""),
        archive_max=max((a.get("max") or "" for a in archive), default=""),
        scheduled={**counts, "last": runs[-1] if runs else None},
        missed_periods=missed_periods(sorted(b["timestamp"]["stop"] for b in backups), now, schedule),
        stale=schedule.stale_reasons(now - full["timestamp"]["stop"] if full else None,
                                     now - latest["timestamp"]["stop"] if latest else None),
    )


def missed_periods(stops: list[float], now: float, schedule: BackupSchedule) -> int:
    """Periods without a backup: each gap between backups (and since the last) beyond the slack, in incr periods."""
    gaps = [later - earlier for earlier, later in zip(stops, [*stops[1:], now], strict=True)]
    return sum(max(0, math.ceil((gap - schedule.slack_s) / schedule.incr_s) - 1) for gap in gaps)

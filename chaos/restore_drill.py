"""Restore drill: lose both database hosts, restore from one backup copy alone, measure RTO and RPO.

The drill works through the stack's outputs: SSH to hosts by name, Patroni's REST API
and the database endpoints published for operators, the uplinks for the service.
Patroni is paused for the restore (so it neither fails over nor fights the restore),
the other backup sites are made unreachable so only the chosen copy can serve, and
every fault is undone in ``finally``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field

from chaos.clinical_sentinel import ClinicalSentinel, verify_consultation, write_consultation
from chaos.isolation import unreachable
from harness.core.containers import LocalContainers
from harness.core.database import connect as db_connect
from harness.core.host_access import HostAccess
from harness.core.http_json import ready_on_every_uplink
from harness.core.outputs import BackupSite, StackOutputs
from harness.core.patroni import Patroni, wait_cluster_whole
from harness.core.pgbackrest import REACH_TIMEOUT_S, PgBackRest, switch_wal, wait_archived
from harness.core.phases import Phases
from harness.core.postgres_shell import AS_POSTGRES, PATRONICTL, psql
from harness.core.progress import say
from harness.core.ssh import Sessions
from harness.core.waiting import wait_for
from infra.database import DATA_DIR
from infra.drill_access import PG_BIN, RESTORE_LOG

SENTINEL_CHECKSUM = ("select md5(string_agg(seq || ':' || payload, ',' order by seq)) "
                     "from drill.sentinel where seq <= %s")
"""One checksum, computed the same way when the sentinel is written and when it is verified."""
WAL_SEGMENT_BYTES = 16 * 2**20
"""pgBackRest's asynchronous archive queue of the instance: lost with it."""
TAIL_ROWS = 20
"""Rows committed one by one after the sentinel is archived: the tail a real loss would take with it."""


@dataclass
class RestoreResult:
    """What one restore from one copy measured."""

    site: str
    repository: int
    restored_on: str
    sentinel_rows: int
    sentinel_verified: bool
    """The drill table's rows and checksum, and the sentinel consultation with its audit trail, all intact."""
    last_committed_seq: int
    last_recovered_seq: int
    rpo_rows: int
    rpo_seconds: float
    """Span of committed transactions lost (first lost commit to last commit before the loss)."""
    rto_seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    backup_label: str = ""
    clinical_sentinel: str = ""
    """What the check of the sentinel consultation (records, audit trail, trail view) found."""
    database_bytes: int = 0
    replayed_wal_bytes: int = 0
    raw_copy_seconds: float = 0.0
    other_sites_unreachable: bool = False

    @property
    def restore_bytes_per_s(self) -> float:
        return self.database_bytes / self.phases["fetch_and_restore"] if self.phases.get("fetch_and_restore") else 0.0

    @property
    def replay_bytes_per_s(self) -> float:
        """WAL replay rate, counting at least one 16 MiB segment (each segment costs a fetch)."""
        replayed = max(self.replayed_wal_bytes, WAL_SEGMENT_BYTES)
        return replayed / self.phases["wal_replay"] if self.phases.get("wal_replay") else 0.0

    @property
    def raw_copy_bytes_per_s(self) -> float:
        return self.database_bytes / self.raw_copy_seconds if self.raw_copy_seconds else 0.0

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "restore_bytes_per_s": round(self.restore_bytes_per_s),
                "replay_bytes_per_s": round(self.replay_bytes_per_s),
                "raw_copy_bytes_per_s": round(self.raw_copy_bytes_per_s),
                "restore_vs_raw_copy": round(self.restore_bytes_per_s / self.raw_copy_bytes_per_s, 3)
                if self.raw_copy_bytes_per_s else None}


class CorruptRepositoryError(RuntimeError):
    """The chosen copy failed verification: the drill stops before anything is wiped."""


class RepositoryUnreachableError(RuntimeError):
    """The chosen copy does not answer the database hosts: the drill stops before anything is wiped."""


@dataclass(frozen=True)
class Sentinel:
    """What was written before the loss and must come back: rows with a checksum, and a consultation."""

    rows: int
    checksum: str
    consultation: ClinicalSentinel
    committed_tail: dict[int, float]
    """The seq of each tail row committed after the archive point, with its commit time."""

    @property
    def last_seq(self) -> int:
        return max(self.committed_tail, default=self.rows)


def write_sentinel(outputs: StackOutputs, rows: int) -> tuple[int, str]:
    """Known rows with a checksum, committed in one transaction, as the service's role; returns (count, checksum)."""
    with db_connect(outputs) as conn:
        conn.execute("create table if not exists drill.sentinel (seq bigint primary key, payload text not null, "
                     "committed_at timestamptz not null default clock_timestamp())")
        conn.execute("truncate drill.sentinel")
        conn.execute("insert into drill.sentinel (seq, payload) select g, md5('ihh-sentinel-' || g) "
                     "from generate_series(1, %s) g", (rows,))
        checksum = conn.execute(SENTINEL_CHECKSUM, (rows,)).fetchone()[0]
    return rows, str(checksum)


def grow_database(outputs: StackOutputs, gigabytes: float, batch_rows: int = 200_000) -> int:
    """Add filler rows until the database holds at least ``gigabytes``; returns its size in bytes.

    Bounded: each batch adds about 60 MB, and the loop stops at the target or after 500 batches.
    """
    target = int(gigabytes * 10**9)
    with db_connect(outputs) as conn:
        conn.execute("create table if not exists drill.filler (id bigserial primary key, body text not null)")
        size = int(conn.execute("select pg_database_size(current_database())").fetchone()[0])
        for batch in range(500):
            if size >= target:
                break
            conn.execute("insert into drill.filler (body) select repeat(md5(random()::text), 8) "
                         "from generate_series(1, %s)", (batch_rows,))
            size = int(conn.execute("select pg_database_size(current_database())").fetchone()[0])
            if batch % 5 == 0:
                say(f"filling the database: {size / 10**9:.2f} of {gigabytes:.2f} GB")
    return size


def tail_writes(outputs: StackOutputs, rows: int, first_seq: int) -> dict[int, float]:
    """Commits one row at a time right up to the loss; returns each committed seq with its commit time."""
    committed: dict[int, float] = {}
    with db_connect(outputs) as conn:
        for seq in range(first_seq, first_seq + rows):
            conn.execute("insert into drill.sentinel (seq, payload) values (%s, 'tail')", (seq,))
            committed[seq] = time.time()
    return committed


@contextmanager
def patroni_paused(ssh: Sessions, member: str) -> Iterator[None]:
    """Maintenance mode: Patroni neither restarts nor fails over PostgreSQL until resumed."""
    ssh.run(member, f"{PATRONICTL} pause --wait")
    try:
        yield
    finally:
        ssh.run(member, f"{PATRONICTL} resume --wait", check=False)


class RestoreDrill:
    """One drill from one copy: each method is one step, run in order by ``run``."""

    def __init__(self, access: HostAccess, site: BackupSite) -> None:
        self.access, self.outputs, self.ssh, self.site = access, access.outputs, access.ssh, site
        outputs = self.outputs
        self.pgbackrest = PgBackRest(outputs, self.ssh)
        self.others = [s for s in outputs.backup_sites if s.name != site.name]
        self.members = outputs.hosts(role="database")
        self.leader = Patroni(outputs).leader()
        self.phases = Phases()

    def run(self, sentinel_rows: int) -> RestoreResult:
        label = self.check_copy()
        count, checksum, consultation = self.write_archived_sentinel(sentinel_rows)
        with ExitStack() as faults:
            isolated = self.cut_off_other_copies(faults)
            sentinel = Sentinel(count, checksum, consultation, tail_writes(self.outputs, TAIL_ROWS, count + 1))
            faults.enter_context(patroni_paused(self.ssh, self.leader))
            started = time.monotonic()
            try:
                self.lose_and_restore()
                self.clear_standbys()
            except (KeyboardInterrupt, SystemExit):
                self.restore_before_exit()
                raise
        verified, recovered, clinical = self.service_back_and_verified(sentinel)
        rto = time.monotonic() - started
        result = self.result(label, sentinel, verified, recovered, clinical, rto, isolated)
        wait_cluster_whole(self.outputs, "every standby rebuilt and streaming, one synchronous", timeout=600)
        say(f"restore from {self.site.name}: RTO {result.rto_seconds:.1f} s, RPO {result.rpo_rows} rows "
            f"({result.rpo_seconds:.1f} s), sentinel {'verified' if verified else 'NOT verified'}")
        return result

    def check_copy(self) -> str:
        """The copy answers and verifies clean, and holds a backup on the current timeline; its label.

        A backup taken on the current timeline is what an operator restores after an earlier
        failover or restore; restoring an older one across a lost WAL tail would fail, rightly.
        """
        if not self.pgbackrest.repository_answers(self.leader, self.site.repository):
            reachable = [o.name for o in self.others if self.pgbackrest.repository_answers(self.leader, o.repository)]
            raise RepositoryUnreachableError(
                f"repository {self.site.repository} at {self.site.name} does not answer {self.leader} within "
                f"{REACH_TIMEOUT_S} s, so the drill wiped nothing; copies that answer: {', '.join(reachable) or 'none'}"
            )
        self.pgbackrest.wait_stanza_ready(self.site)
        label = self.pgbackrest.backup(self.site, "incr").label
        checked = self.pgbackrest.verify(self.site)
        if not checked.ok:
            raise CorruptRepositoryError(
                f"repository {self.site.repository} at {self.site.name} failed verification, so the drill wiped "
                f"nothing and restores nothing from it: "
                f"{'; '.join(checked.problems) or 'pgBackRest reported status: error'}"
            )
        return label

    def write_archived_sentinel(self, rows: int) -> tuple[int, str, ClinicalSentinel]:
        """The consultation and the sentinel rows, written and archived into the chosen copy."""
        consultation = write_consultation(self.outputs)
        count, checksum = write_sentinel(self.outputs, rows)
        segment = switch_wal(self.ssh, self.leader)
        wait_archived(self.pgbackrest, self.site, segment)
        say(f"sentinel: {count} rows, checksum {checksum}, archived to {self.site.name} up to {segment}")
        return count, checksum, consultation

    def cut_off_other_copies(self, faults: ExitStack) -> bool:
        """Every other copy unreachable from the database hosts; whether that was confirmed."""
        for other in self.others:
            faults.enter_context(unreachable(self.access, other.host, self.members))
        return all(self.pgbackrest.port_refused(self.leader, o) for o in self.others)

    def lose_and_restore(self) -> None:
        """Wipe every member's data, restore the leader from the copy, start it and wait for replay to end."""
        with self.phases.timed("loss"):
            say(f"loss declared: wiping the data of {', '.join(m.name for m in self.members)}")
            for member in self.members:
                self.ssh.run(member.name, f"{AS_POSTGRES} {PG_BIN}/pg_ctl -D {DATA_DIR} stop -m immediate",
                             check=False)
                # The lost instance's asynchronous archiver goes with it: left running (stuck on a cut-off
                # copy, say) it holds pgBackRest's archive lock, and every archive-get of the restore then
                # waits 60 s for an async process that cannot start (seen: replay stuck at the first segment).
                self.ssh.run(member.name, "pkill -KILL -u postgres -f 'pgbackrest .*archive-(push|get)'", check=False)
                self.ssh.run(member.name, "ihh-pgdata-wipe")  # PGDATA, pg_wal, the archive spool; PGDATA made anew
        with self.phases.timed("fetch_and_restore"):
            self.pgbackrest.restore(self.leader, self.site)
        with self.phases.timed("start"):
            self.ssh.run(self.leader, f"{AS_POSTGRES} {PG_BIN}/pg_ctl -D {DATA_DIR} start -w -t 3600 "
                         f"-l {RESTORE_LOG}", timeout_s=3600)
        with self.phases.timed("wal_replay"):
            wait_for("WAL replay to finish and the restored primary to promote",
                     lambda: self.ssh.run(self.leader, psql("select pg_is_in_recovery()"),
                                          check=False).strip() == "f",
                     timeout=4 * 3600, interval=0.5)

    def restore_before_exit(self) -> None:
        """Interrupted once the data is wiped: the loss is the fault and a restore its only undo, so the
        restore runs again from the start, unmeasured, before the copies are reconnected and Patroni resumed."""
        say(f"interrupted during the restore drill: restoring {self.leader} from {self.site.name} before exiting, "
            "so the stack is left whole (further signals are ignored until then)")
        self.lose_and_restore()
        self.clear_standbys()

    def clear_standbys(self) -> None:
        """Empty the other members' data directories again, just before Patroni resumes and rebuilds them.

        `pause --wait` stops new actions, not one already running: a member that had just rejoined (after a
        primary-kill drill) finished "changing primary_conninfo and restarting" after the wipe and left
        standby.signal and patroni.dynamic.json behind, and Patroni then refused the directory for ever
        ("system ID is invalid; consider doing reinitialize").
        """
        for member in self.members:
            if member.name != self.leader:
                self.ssh.run(member.name, "ihh-pgdata-empty")  # PGDATA's content and pg_wal

    def service_back_and_verified(self, sentinel: Sentinel) -> tuple[bool, int, str]:
        """(everything verified, last seq recovered, what the consultation check found)."""
        with self.phases.timed("service_back"):
            wait_for("the service ready through every uplink",
                     lambda: ready_on_every_uplink(self.outputs), timeout=300, interval=0.5)
        with self.phases.timed("verify"):
            verified, recovered = _verify(self.outputs, sentinel.rows, sentinel.checksum)
            clinical_ok, clinical = verify_consultation(self.outputs, sentinel.consultation)
            say(f"sentinel consultation: {clinical}")
        return verified and clinical_ok, recovered, clinical

    def result(self, label: str, sentinel: Sentinel, verified: bool, recovered: int, clinical: str, rto: float,
               isolated: bool) -> RestoreResult:
        """The measured result, with the sizes read from the backup set and the restored primary."""
        backup = self.pgbackrest.info(self.site, label=label)["backup"][-1]
        replayed = int(self.ssh.run(self.leader, psql(
            f"select pg_wal_lsn_diff(pg_current_wal_lsn(), '{backup['lsn']['stop']}')")).strip().split(".")[0])
        return RestoreResult(
            site=self.site.name, repository=self.site.repository, restored_on=self.leader,
            sentinel_rows=sentinel.rows, sentinel_verified=verified, last_committed_seq=sentinel.last_seq,
            last_recovered_seq=recovered, rpo_rows=max(0, sentinel.last_seq - recovered),
            rpo_seconds=_lost_window(sentinel.committed_tail, recovered), rto_seconds=round(rto, 3),
            phases=self.phases.rounded(), backup_label=label, clinical_sentinel=clinical,
            database_bytes=int(backup["info"]["size"]), replayed_wal_bytes=max(0, replayed),
            raw_copy_seconds=round(_raw_copy_seconds(self.ssh, self.leader), 3), other_sites_unreachable=isolated,
        )


def run_restore_drill(containers: LocalContainers | None, outputs: StackOutputs, site_name: str,
                      sentinel_rows: int = 1000) -> RestoreResult:
    """Lose every database host's data, restore from ``site_name``'s copy alone, and measure."""
    site = outputs.backup_site(site_name)
    with HostAccess(outputs, containers) as access:
        return RestoreDrill(access, site).run(sentinel_rows)


def _raw_copy_seconds(ssh: Sessions, host: str) -> float:
    """The physical limit here: a plain copy of the restored data directory on the same disk."""
    started = time.monotonic()
    ssh.run(host, "ihh-pgdata-copy", timeout_s=4 * 3600)  # cp -a PGDATA PGDATA.rawcopy && sync
    seconds = time.monotonic() - started
    ssh.run(host, "ihh-pgdata-drop-copy")
    return seconds


def _verify(outputs: StackOutputs, count: int, checksum: str) -> tuple[bool, int]:
    """The sentinel rows and checksum as written, a new write accepted; returns (verified, last seq present)."""
    with db_connect(outputs) as conn:
        present = conn.execute(SENTINEL_CHECKSUM, (count,)).fetchone()[0]
        recovered = conn.execute("select coalesce(max(seq), 0) from drill.sentinel").fetchone()[0]
        conn.execute("insert into drill.sentinel (seq, payload) values (%s, 'after-restore')", (recovered + 1000,))
    return present == checksum, int(recovered)


def _lost_window(committed: dict[int, float], recovered: int) -> float:
    """Seconds of committed work lost: from the first lost commit to the last commit before the loss."""
    lost = [at for seq, at in committed.items() if seq > recovered]
    return round(max(lost) - min(lost), 3) if lost else 0.0

"""Restore drill: lose both database hosts, restore from one backup copy alone, measure RTO and RPO.

The drill works through the stack's outputs: SSH to hosts by name, Patroni's REST API
and the database endpoints published for operators, the uplinks for the service.
Patroni is paused for the restore (so it neither fails over nor fights the restore),
the other backup sites are made unreachable so only the chosen copy can serve, and
every fault is undone in ``finally``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field

import docker
import paramiko

from chaos.backups import verify
from chaos.clinical_sentinel import verify_consultation, write_consultation
from chaos.cluster import leader as current_leader
from chaos.cluster import ready, wait_cluster_whole
from chaos.isolation import unreachable
from harness.core.database import connect as db_connect
from harness.core.outputs import StackOutputs
from harness.core.progress import say
from harness.core.ssh import connect, run
from harness.core.waiting import wait_for
from infra.database import DATA_DIR

PG_BIN = "/usr/lib/postgresql/15/bin"
SENTINEL_CHECKSUM = ("select md5(string_agg(seq || ':' || payload, ',' order by seq)) "
                     "from drill_sentinel where seq <= %s")
"""One checksum, computed the same way when the sentinel is written and when it is verified."""
WAL_SEGMENT_BYTES = 16 * 2**20
PATRONICTL = "runuser -u postgres -- patronictl -c /etc/patroni/patroni.yml"
AS_POSTGRES = "runuser -u postgres --"


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


class Sessions:
    """SSH sessions to the stack's hosts, opened on first use, closed together."""

    def __init__(self, outputs: StackOutputs) -> None:
        self.outputs = outputs
        self._open: dict[str, paramiko.SSHClient] = {}

    def run(self, host: str, command: str, timeout_s: float = 600, check: bool = True) -> str:
        if host not in self._open:
            self._open[host] = connect(self.outputs, host)
        return run(self._open[host], host, f"sudo {command}", timeout_s=timeout_s, check=check).stdout

    def close(self) -> None:
        for client in self._open.values():
            client.close()


REACH_TIMEOUT_S = 10
UNKNOWN_STATUS = 99
"""pgBackRest's info status "other": the repository could not be read."""


def repository_answers(ssh: Sessions, member: str, repository: int) -> bool:
    """Whether ``member`` reaches the repository over pgBackRest's TLS protocol within REACH_TIMEOUT_S.

    An answer is any status the repository reports (even "no valid backups", code 2);
    a cut-off repository gives none: pgBackRest keeps retrying until the timeout ends it.
    """
    raw = ssh.run(member, f"timeout {REACH_TIMEOUT_S} {AS_POSTGRES} pgbackrest --stanza=main --repo={repository} "
                  "info --output=json", check=False, timeout_s=REACH_TIMEOUT_S + 30)
    try:
        return int(json.loads(raw)[0]["status"]["code"]) != UNKNOWN_STATUS
    except (ValueError, LookupError, TypeError):
        return False


def _site(outputs: StackOutputs, name: str) -> dict:
    for site in outputs["backup_sites"]:
        if site["name"] == name:
            return site
    raise KeyError(f"no backup site {name!r}; sites: {', '.join(s['name'] for s in outputs['backup_sites'])}")


def repo_info(ssh: Sessions, site: dict) -> dict:
    raw = ssh.run(site["host"], f"runuser -u pgbackrest -- pgbackrest --stanza=main --repo={site['repository']} "
                  "info --output=json")
    return json.loads(raw)[0]


def fresh_backup(ssh: Sessions, site: dict) -> str:
    """Back up into the site's repository now (incremental on its last full, full if none) and return the label.

    A backup taken on the current timeline is what an operator restores after an earlier
    failover or restore; restoring an older one across a lost WAL tail would fail, rightly.
    """
    wait_for(f"stanza ready in repository {site['repository']}",
             lambda: int(repo_info(ssh, site)["status"]["code"]) in (0, 2), timeout=180, interval=1.0)
    ssh.run(site["host"], f"runuser -u pgbackrest -- pgbackrest --stanza=main --repo={site['repository']} "
            "--type=incr backup", timeout_s=4 * 3600)
    return str(repo_info(ssh, site)["backup"][-1]["label"])


def write_sentinel(outputs: StackOutputs, rows: int) -> tuple[int, str]:
    """Known rows with a checksum, committed in one transaction, as the service's role; returns (count, checksum)."""
    with db_connect(outputs) as conn:
        conn.execute("create table if not exists drill_sentinel (seq bigint primary key, payload text not null, "
                     "committed_at timestamptz not null default clock_timestamp())")
        conn.execute("truncate drill_sentinel")
        conn.execute("insert into drill_sentinel (seq, payload) select g, md5('ihh-sentinel-' || g) "
                     "from generate_series(1, %s) g", (rows,))
        checksum = conn.execute(SENTINEL_CHECKSUM, (rows,)).fetchone()[0]
    return rows, str(checksum)


def grow_database(outputs: StackOutputs, gigabytes: float, batch_rows: int = 200_000) -> int:
    """Add filler rows until the database holds at least ``gigabytes``; returns its size in bytes.

    Bounded: each batch adds about 60 MB, and the loop stops at the target or after 500 batches.
    """
    target = int(gigabytes * 10**9)
    with db_connect(outputs) as conn:
        conn.execute("create table if not exists drill_filler (id bigserial primary key, body text not null)")
        size = int(conn.execute("select pg_database_size(current_database())").fetchone()[0])
        for batch in range(500):
            if size >= target:
                break
            conn.execute("insert into drill_filler (body) select repeat(md5(random()::text), 8) "
                         "from generate_series(1, %s)", (batch_rows,))
            size = int(conn.execute("select pg_database_size(current_database())").fetchone()[0])
            if batch % 5 == 0:
                say(f"filling the database: {size / 10**9:.2f} of {gigabytes:.2f} GB")
    return size


def switch_wal(ssh: Sessions, leader: str) -> str:
    """Close the current WAL segment so it is archived now; returns its name."""
    return ssh.run(leader, f"{AS_POSTGRES} psql -XAtc 'select pg_walfile_name(pg_switch_wal())'").strip()


def wait_archived(ssh: Sessions, site: dict, segment: str, timeout_s: float = 120) -> None:
    """Until the site's repository holds WAL up to ``segment``: the sentinel is then in this copy."""
    def archived() -> bool:
        archive = repo_info(ssh, site).get("archive") or []
        return any(a.get("max") and a["max"][-16:] >= segment[-16:] for a in archive)

    wait_for(f"WAL {segment} archived in repository {site['repository']}", archived, timeout=timeout_s)


def tail_writes(outputs: StackOutputs, rows: int, first_seq: int) -> dict[int, float]:
    """Commits one row at a time right up to the loss; returns each committed seq with its commit time."""
    committed: dict[int, float] = {}
    with db_connect(outputs) as conn:
        for seq in range(first_seq, first_seq + rows):
            conn.execute("insert into drill_sentinel (seq, payload) values (%s, 'tail')", (seq,))
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


def run_restore_drill(
    client: docker.DockerClient, outputs: StackOutputs, site_name: str, sentinel_rows: int = 1000
) -> RestoreResult:
    """Lose every database host's data, restore from ``site_name``'s copy alone, and measure."""
    site = _site(outputs, site_name)
    members = [m["name"] for m in outputs["database"]["members"]]
    others = [s for s in outputs["backup_sites"] if s["name"] != site_name]
    ssh = Sessions(outputs)
    phases: dict[str, float] = {}
    try:
        leader = current_leader(outputs)
        if not repository_answers(ssh, leader, site["repository"]):
            reachable = [o["name"] for o in others if repository_answers(ssh, leader, o["repository"])]
            raise RepositoryUnreachableError(
                f"repository {site['repository']} at {site_name} does not answer {leader} within "
                f"{REACH_TIMEOUT_S} s, so the drill wiped nothing; copies that answer: {', '.join(reachable) or 'none'}"
            )
        label = fresh_backup(ssh, site)
        checked = verify(outputs, site)
        if not checked.ok:
            raise CorruptRepositoryError(
                f"repository {site['repository']} at {site_name} failed verification, so the drill wiped nothing "
                f"and restores nothing from it: {'; '.join(checked.problems) or 'pgBackRest reported status: error'}"
            )
        consultation = write_consultation(outputs)
        count, checksum = write_sentinel(outputs, sentinel_rows)
        segment = switch_wal(ssh, leader)
        wait_archived(ssh, site, segment)
        say(f"sentinel: {count} rows, checksum {checksum}, archived to {site['name']} up to {segment}")
        with ExitStack() as faults:
            for other in others:
                faults.enter_context(unreachable(client, outputs, other["host"], members))
            isolated = not any(repository_answers(ssh, leader, other["repository"]) for other in others)
            committed = tail_writes(outputs, 20, count + 1)
            last_seq = max(committed)
            faults.enter_context(patroni_paused(ssh, leader))
            started = time.monotonic()
            say(f"loss declared: wiping the data of {', '.join(members)}")
            for member in members:
                ssh.run(member, f"{AS_POSTGRES} {PG_BIN}/pg_ctl -D {DATA_DIR} stop -m immediate", check=False)
                ssh.run(member, f"sh -c 'rm -rf {DATA_DIR} && install -d -o postgres -g postgres -m 0700 {DATA_DIR}'")
            phases["loss"] = time.monotonic() - started
            mark = time.monotonic()
            ssh.run(leader, f"{AS_POSTGRES} pgbackrest --stanza=main --repo={site['repository']} restore",
                    timeout_s=4 * 3600)
            phases["fetch_and_restore"] = time.monotonic() - mark
            mark = time.monotonic()
            ssh.run(leader, f"{AS_POSTGRES} {PG_BIN}/pg_ctl -D {DATA_DIR} start -w -t 3600 "
                    "-l /var/log/postgresql/restore-drill.log", timeout_s=3600)
            phases["start"] = time.monotonic() - mark
            mark = time.monotonic()
            wait_for("WAL replay to finish and the restored primary to promote",
                     lambda: ssh.run(leader, f"{AS_POSTGRES} psql -XAtc 'select pg_is_in_recovery()'",
                                     check=False).strip() == "f",
                     timeout=4 * 3600, interval=0.5)
            phases["wal_replay"] = time.monotonic() - mark
        mark = time.monotonic()
        wait_for("the service ready through every uplink", lambda: all(
            ready(u["url"]) for u in outputs["uplinks"]), timeout=300, interval=0.5)
        phases["service_back"] = time.monotonic() - mark
        mark = time.monotonic()
        verified, recovered = _verify(outputs, count, checksum)
        clinical_ok, clinical = verify_consultation(outputs, consultation)
        say(f"sentinel consultation: {clinical}")
        verified = verified and clinical_ok
        phases["verify"] = time.monotonic() - mark
        rto = time.monotonic() - started
        lost_rows = max(0, last_seq - recovered)
        backup = json.loads(ssh.run(site["host"], f"runuser -u pgbackrest -- pgbackrest --stanza=main "
                                    f"--repo={site['repository']} --set={label} info --output=json"))[0]["backup"][-1]
        database_bytes = int(backup["info"]["size"])
        replayed = int(ssh.run(leader, f"{AS_POSTGRES} psql -XAtc \"select pg_wal_lsn_diff(pg_current_wal_lsn(), "
                               f"'{backup['lsn']['stop']}')\"").strip().split(".")[0])
        raw_copy = _raw_copy_seconds(ssh, leader)
        wait_cluster_whole(outputs, "every standby rebuilt and streaming, one synchronous", timeout=600)
        result = RestoreResult(
            site=site_name, repository=site["repository"], restored_on=leader, sentinel_rows=count,
            sentinel_verified=verified, last_committed_seq=last_seq, last_recovered_seq=recovered,
            rpo_rows=lost_rows, rpo_seconds=_lost_window(committed, recovered),
            rto_seconds=round(rto, 3), phases={k: round(v, 3) for k, v in phases.items()}, backup_label=label,
            clinical_sentinel=clinical,
            database_bytes=database_bytes, replayed_wal_bytes=max(0, replayed), raw_copy_seconds=round(raw_copy, 3),
            other_sites_unreachable=isolated,
        )
        say(f"restore from {site_name}: RTO {result.rto_seconds:.1f} s, RPO {result.rpo_rows} rows "
            f"({result.rpo_seconds:.1f} s), sentinel {'verified' if verified else 'NOT verified'}")
        return result
    finally:
        ssh.close()


def _raw_copy_seconds(ssh: Sessions, host: str) -> float:
    """The physical limit here: a plain copy of the restored data directory on the same disk."""
    copy = f"{DATA_DIR}.rawcopy"
    started = time.monotonic()
    ssh.run(host, f"sh -c 'cp -a {DATA_DIR} {copy} && sync'", timeout_s=4 * 3600)
    seconds = time.monotonic() - started
    ssh.run(host, f"rm -rf {copy}")
    return seconds


def _verify(outputs: StackOutputs, count: int, checksum: str) -> tuple[bool, int]:
    """The sentinel rows and checksum as written, a new write accepted; returns (verified, last seq present)."""
    with db_connect(outputs) as conn:
        present = conn.execute(SENTINEL_CHECKSUM, (count,)).fetchone()[0]
        recovered = conn.execute("select coalesce(max(seq), 0) from drill_sentinel").fetchone()[0]
        conn.execute("insert into drill_sentinel (seq, payload) values (%s, 'after-restore')", (recovered + 1000,))
    return present == checksum, int(recovered)


def _lost_window(committed: dict[int, float], recovered: int) -> float:
    """Seconds of committed work lost: from the first lost commit to the last commit before the loss."""
    lost = [at for seq, at in committed.items() if seq > recovered]
    return round(max(lost) - min(lost), 3) if lost else 0.0

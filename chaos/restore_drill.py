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
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field

import docker
import paramiko

from chaos.isolation import unreachable
from checks.ssh import connect, run
from harness.database_client import connect as db_connect
from harness.outputs import StackOutputs
from harness.progress import say
from harness.waiting import wait_for
from infra.database import DATA_DIR

PG_BIN = "/usr/lib/postgresql/15/bin"
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
    last_committed_seq: int
    last_recovered_seq: int
    rpo_rows: int
    rpo_seconds: float
    rto_seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    backup_label: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


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


def _leader(outputs: StackOutputs) -> str:
    """The member Patroni calls leader, asked of any member that answers."""
    last: Exception | None = None
    for member in outputs["database"]["members"]:
        try:
            with urllib.request.urlopen(f"http://{member['patroni']}/cluster", timeout=3) as response:
                cluster = json.loads(response.read())
            return next(m["name"] for m in cluster["members"] if m["role"] == "leader")
        except (OSError, StopIteration, KeyError) as exc:
            last = exc
    raise RuntimeError(f"no Patroni member names a leader: {last}")


def _site(outputs: StackOutputs, name: str) -> dict:
    for site in outputs["backup_sites"]:
        if site["name"] == name:
            return site
    raise KeyError(f"no backup site {name!r}; sites: {', '.join(s['name'] for s in outputs['backup_sites'])}")


def _repo_info(ssh: Sessions, site: dict) -> dict:
    raw = ssh.run(site["host"], f"runuser -u pgbackrest -- pgbackrest --stanza=main --repo={site['repository']} "
                  "info --output=json")
    return json.loads(raw)[0]


def ensure_backup(ssh: Sessions, site: dict) -> str:
    """The newest backup in the site's repository, taking a full one if it holds none."""
    info = _repo_info(ssh, site)
    if not info.get("backup"):
        say(f"repository {site['repository']} ({site['name']}) holds no backup: taking a full one")
        ssh.run(site["host"], f"runuser -u pgbackrest -- pgbackrest --stanza=main --repo={site['repository']} "
                "--type=full backup")
        info = _repo_info(ssh, site)
    return str(info["backup"][-1]["label"])


def write_sentinel(outputs: StackOutputs, rows: int) -> tuple[int, str]:
    """Known rows with a checksum, committed in one transaction, as the service's role; returns (count, checksum)."""
    with db_connect(outputs) as conn:
        conn.execute("create table if not exists drill_sentinel (seq bigint primary key, payload text not null, "
                     "committed_at timestamptz not null default clock_timestamp())")
        conn.execute("truncate drill_sentinel")
        conn.execute("insert into drill_sentinel (seq, payload) select g, md5('ihh-sentinel-' || g) "
                     "from generate_series(1, %s) g", (rows,))
        checksum = conn.execute("select md5(string_agg(seq || ':' || payload, ',' order by seq)) "
                                "from drill_sentinel").fetchone()[0]
    return rows, str(checksum)


def switch_wal(ssh: Sessions, leader: str) -> str:
    """Close the current WAL segment so it is archived now; returns its name."""
    return ssh.run(leader, f"{AS_POSTGRES} psql -XAtc 'select pg_walfile_name(pg_switch_wal())'").strip()


def wait_archived(ssh: Sessions, site: dict, segment: str, timeout_s: float = 120) -> None:
    """Until the site's repository holds WAL up to ``segment``: the sentinel is then in this copy."""
    def archived() -> bool:
        archive = _repo_info(ssh, site).get("archive") or []
        return any(a.get("max") and a["max"][-16:] >= segment[-16:] for a in archive)

    wait_for(f"WAL {segment} archived in repository {site['repository']}", archived, timeout=timeout_s)


def tail_writes(outputs: StackOutputs, rows: int, first_seq: int) -> tuple[int, float]:
    """Commits one row at a time right up to the loss; returns the last committed seq and its time."""
    last_seq, last_at = first_seq - 1, time.time()
    with db_connect(outputs) as conn:
        for seq in range(first_seq, first_seq + rows):
            conn.execute("insert into drill_sentinel (seq, payload) values (%s, 'tail')", (seq,))
            last_seq, last_at = seq, time.time()
    return last_seq, last_at


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
        leader = _leader(outputs)
        label = ensure_backup(ssh, site)
        count, checksum = write_sentinel(outputs, sentinel_rows)
        segment = switch_wal(ssh, leader)
        wait_archived(ssh, site, segment)
        say(f"sentinel: {count} rows, checksum {checksum}, archived to {site['name']} up to {segment}")
        with ExitStack() as faults:
            for other in others:
                faults.enter_context(unreachable(client, outputs, other["host"], members))
            last_seq, last_at = tail_writes(outputs, 20, count + 1)
            faults.enter_context(patroni_paused(ssh, leader))
            started = time.monotonic()
            declared = time.time()
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
            _ready(u["url"]) for u in outputs["uplinks"]), timeout=300, interval=0.5)
        phases["service_back"] = time.monotonic() - mark
        mark = time.monotonic()
        verified, recovered = _verify(outputs, count, checksum)
        phases["verify"] = time.monotonic() - mark
        rto = time.monotonic() - started
        lost_rows = max(0, last_seq - recovered)
        result = RestoreResult(
            site=site_name, repository=site["repository"], restored_on=leader, sentinel_rows=count,
            sentinel_verified=verified, last_committed_seq=last_seq, last_recovered_seq=recovered,
            rpo_rows=lost_rows, rpo_seconds=0.0 if lost_rows == 0 else round(last_at - declared, 3)
            if last_at > declared else _rpo_seconds(outputs, recovered, last_at),
            rto_seconds=round(rto, 3), phases={k: round(v, 3) for k, v in phases.items()}, backup_label=label,
        )
        say(f"restore from {site_name}: RTO {result.rto_seconds:.1f} s, RPO {result.rpo_rows} rows "
            f"({result.rpo_seconds:.1f} s), sentinel {'verified' if verified else 'NOT verified'}")
        return result
    finally:
        ssh.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _verify(outputs: StackOutputs, count: int, checksum: str) -> tuple[bool, int]:
    """The sentinel rows and checksum as written, a new write accepted; returns (verified, last seq present)."""
    with db_connect(outputs) as conn:
        present = conn.execute("select md5(string_agg(seq || ':' || payload, ',' order by seq)) "
                               "from drill_sentinel where seq <= %s", (count,)).fetchone()[0]
        recovered = conn.execute("select coalesce(max(seq), 0) from drill_sentinel").fetchone()[0]
        conn.execute("insert into drill_sentinel (seq, payload) values (%s, 'after-restore')", (recovered + 1000,))
    return present == checksum, int(recovered)


def _rpo_seconds(outputs: StackOutputs, recovered: int, last_committed_at: float) -> float:
    """Seconds of committed work lost: from the last recovered row's commit to the last commit before loss."""
    with db_connect(outputs) as conn:
        row = conn.execute("select extract(epoch from committed_at) from drill_sentinel where seq = %s",
                           (recovered,)).fetchone()
    return round(max(0.0, last_committed_at - float(row[0])), 3) if row else 0.0

"""The WAL disk of a database host: how full it is, judged the same way by the host check, the drill's probe
and the fault that fills it.

PostgreSQL stops (PANIC) when it cannot write WAL; free space below ``WAL_HEADROOM_FACTOR`` x max_wal_size
is the alarm that comes before. ``statfs`` of the pg_wal directory answers for the filesystem it really
lives on (the WAL disk, through PGDATA's link).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.postgres_shell import psql
from infra.database import DATA_DIR, WAL_DIR

WAL_PATH = f"{WAL_DIR}/pg_wal"
STATFS_COMMAND = f"stat -f -c '%b %a %S' {DATA_DIR}/pg_wal/ {DATA_DIR}"
"""Blocks, blocks available to non-root users, block size: of pg_wal's filesystem, then of PGDATA's."""
MAX_WAL_COMMAND = psql("select setting::bigint * 1048576 from pg_settings where name = 'max_wal_size'")
"""Prints max_wal_size in bytes."""
DEVICES_COMMAND = f"stat -L -c %d {DATA_DIR}/pg_wal/ {DATA_DIR}"
"""The device numbers of pg_wal's filesystem and of PGDATA's."""
WAL_HEADROOM_FACTOR = 2
"""Free space on the WAL disk, in multiples of max_wal_size, below which the alarm is raised: WAL may
outgrow max_wal_size between checkpoints, and a stalled archiver keeps every segment until it is pushed."""


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int

    @property
    def free_pct(self) -> float:
        return 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0

    def __str__(self) -> str:
        return f"{self.free_bytes / 2**20:.0f} of {self.total_bytes / 2**20:.0f} MB free ({self.free_pct:.0f} %)"


def alarm_free_bytes(max_wal_bytes: int) -> int:
    """The free space under which the WAL disk raises its alarm."""
    return WAL_HEADROOM_FACTOR * max_wal_bytes


def parse_statfs(output: str) -> tuple[DiskUsage, DiskUsage]:
    """(pg_wal's filesystem, PGDATA's filesystem) from ``STATFS_COMMAND``'s two lines."""
    fields = output.split()
    if len(fields) != 6:
        raise ValueError(f"unexpected output of `{STATFS_COMMAND}`: {output.strip()!r}")
    wal, data = (DiskUsage(int(b) * int(s), int(a) * int(s)) for b, a, s in (fields[0:3], fields[3:6]))
    return wal, data


def on_own_disk(devices_output: str) -> bool:
    """Whether ``DEVICES_COMMAND`` found pg_wal on another filesystem than PGDATA."""
    fields = devices_output.split()
    if len(fields) != 2:
        raise ValueError(f"unexpected output of `{DEVICES_COMMAND}`: {devices_output.strip()!r}")
    return fields[0] != fields[1]

"""The WAL disk of a database host: how full it is, read the same way by the drill's probe and the host check.

PostgreSQL stops (PANIC) when it cannot write WAL; the disk's free share is the warning that comes
before. ``statfs`` of the pg_wal directory answers for whatever filesystem it really lives on.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.database import DATA_DIR, WAL_DIR, WAL_HEADROOM_MIN_PCT

WAL_PATH = f"{WAL_DIR}/pg_wal"
STATFS_COMMAND = f"stat -f -c '%b %a %S' {WAL_PATH} {DATA_DIR}"
"""Blocks, blocks available to non-root users, block size: of pg_wal's filesystem, then of PGDATA's."""
FILLER = f"{WAL_DIR}/ihh-drill-filler"
"""The file the wal-disk-full drill fills the disk with (beside pg_wal, on the same filesystem)."""


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int

    @property
    def free_pct(self) -> float:
        return 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0

    @property
    def low(self) -> bool:
        return self.free_pct < WAL_HEADROOM_MIN_PCT

    def __str__(self) -> str:
        return f"{self.free_bytes / 2**20:.0f} of {self.total_bytes / 2**20:.0f} MB free ({self.free_pct:.0f} %)"


def parse_statfs(output: str) -> tuple[DiskUsage, DiskUsage]:
    """(pg_wal's filesystem, PGDATA's filesystem) from ``STATFS_COMMAND``'s two lines."""
    lines = output.split()
    if len(lines) != 6:
        raise ValueError(f"unexpected output of `{STATFS_COMMAND}`: {output.strip()!r}")
    usages = []
    for blocks, available, size in (lines[0:3], lines[3:6]):
        usages.append(DiskUsage(int(blocks) * int(size), int(available) * int(size)))
    return usages[0], usages[1]

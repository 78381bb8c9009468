"""Host names of the whole topology, fixed from config before any resource exists.

Components that reference each other (database hosts name their backup repositories,
backup hosts name their database hosts) read names from here, so there is no cycle
and every name is decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import StackConfig


@dataclass(frozen=True)
class Layout:
    """Names of every host by role."""

    app: tuple[str, ...]
    database: tuple[str, ...]
    dcs: tuple[str, ...]
    ingress: dict[str, str]
    av: tuple[str, ...]
    backup: dict[str, str]
    log: str = "log-1"

    @classmethod
    def from_config(cls, config: StackConfig) -> Layout:
        return cls(
            app=tuple(f"app-{i}" for i in range(1, config.app_servers + 1)),
            database=tuple(f"db-{i}" for i in range(1, config.database.standbys + 2)),
            dcs=tuple(f"dcs-{i}" for i in range(1, config.database.dcs_members + 1)),
            ingress={u.name: f"ingress-{u.name}" for u in config.uplinks},
            av=tuple(f"turn-{i}" for i in range(1, config.av_nodes + 1)),
            backup={s.name: f"backup-{s.name}" for s in config.backup_sites},
        )

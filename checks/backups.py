"""How fresh every backup copy is right now, written where the evidence reads it (EH-2.2.3).

Read before the restore drills of a run take their own backups, so a stale copy shows as stale
even when a drill's fresh backup then restores fine.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from harness.core.outputs import StackOutputs
from harness.core.pgbackrest import CopyFreshness, PgBackRest, freshness
from harness.core.ssh import Sessions


def copies_freshness(stack: str, out: Path | None = None) -> list[CopyFreshness]:
    """Every copy's freshness under the stack's schedule; with ``out``, saved there as freshness.json."""
    outputs = StackOutputs.load(stack)
    with Sessions(outputs) as ssh:
        pgbackrest = PgBackRest(outputs, ssh)
        copies = [freshness(pgbackrest, site) for site in outputs.backup_sites]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "freshness.json").write_text(json.dumps(
            {"schedule": asdict(outputs.backup_schedule), "copies": [c.to_json() for c in copies]}, indent=2))
    return copies


def describe(copies: list[CopyFreshness]) -> str:
    def age(at: float | None, now: float) -> str:
        return "never" if at is None else f"{(now - at) / 3600:.1f} h ago"

    lines = []
    for c in copies:
        s = c.scheduled
        lines.append(f"{c.site} (repo {c.repository}): {'STALE' if c.stale else 'fresh'}; last full "
                     f"{age(c.last_full_at, c.measured_at)}, last backup ({c.last_backup_type or '-'}) "
                     f"{age(c.last_backup_at, c.measured_at)}; {c.backups} backups; WAL {c.archive_min or '-'} .. "
                     f"{c.archive_max or '-'}; scheduled runs ok {s['ok']}, failed {s['failed']}, busy {s['busy']}; "
                     f"missed periods {c.missed_periods}" + "".join(f"\n  {r}" for r in c.stale))
    return "\n".join(lines)

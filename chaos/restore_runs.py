"""Restore drills from each copy in turn, their projection to production size, saved as restore.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaos.restore_drill import grow_database, run_restore_drill
from chaos.restore_projection import project
from harness.core.outputs import StackOutputs
from harness.core.progress import say
from harness.provisioning.engine import local_containers


def run_restores(stack: str, sites: list[str], out: Path, sentinel_rows: int = 1000, fill_gb: float = 0.0,
                 target: str | None = None) -> dict[str, Any]:
    """One drill per site (every site by default); restore.json is rewritten after each, so a crash keeps the rest.
    Every host is reached by ``target`` where given, else as the outputs say."""
    outputs = StackOutputs.load(stack).reached_by(target)
    sites = sites or [s.name for s in outputs.backup_sites]
    for name in sites:
        outputs.backup_site(name)  # an unknown site is refused before any drill runs
    containers = local_containers(outputs)
    out.mkdir(parents=True, exist_ok=True)
    if fill_gb:
        size = grow_database(outputs, fill_gb)
        say(f"database size before the drills: {size / 10**9:.2f} GB")
    drills, results = [], []
    for site in sites:
        drills.append(run_restore_drill(containers, outputs, site, sentinel_rows))
        results.append(drills[-1].to_json())
        (out / "restore.json").write_text(json.dumps({"drills": results}, indent=2, ensure_ascii=False))
    sizes = outputs.restore_projection
    projection = project(drills, sizes.data_gb, sizes.wal_gb)
    data = {"drills": results, "projection": projection.to_json()}
    (out / "restore.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return data


def describe_restores(data: dict[str, Any]) -> str:
    lines = [f"{'site':<12} {'RTO s':>7} {'RPO rows':>8} {'RPO s':>6} {'restore MB/s':>12} {'vs raw copy':>11}"
             "  verified"]
    for r in data["drills"]:
        ratio = f"{r['restore_vs_raw_copy']:.0%}" if r["restore_vs_raw_copy"] else "-"
        lines.append(f"{r['site']:<12} {r['rto_seconds']:>7.1f} {r['rpo_rows']:>8} {r['rpo_seconds']:>6.1f} "
                     f"{r['restore_bytes_per_s'] / 1e6:>12.1f} {ratio:>11}  {r['sentinel_verified']}")
    p = data["projection"]
    lines.append(f"projected RTO for {p['data_gb']:.0f} GB data + {p['wal_gb']:.0f} GB WAL: "
                 f"{p['rto_low_s'] / 3600:.2f}-{p['rto_high_s'] / 3600:.2f} h; "
                 f"within 4 h (EH-2.2.3): {p['within_4h']}; within 72 h (EH-3.3.2): {p['within_72h']}"
                 + (f"; restore rate capped at the raw-copy rate in {p['capped_at_raw_copy']} drill(s)"
                    if p.get("capped_at_raw_copy") else ""))
    return "\n".join(lines)

"""The report's plots, as SVG with text drawn as paths: self-contained, no font needed to read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from harness.core.request_log import read_requests

plt.rcParams.update({"svg.fonttype": "path", "font.size": 9, "figure.dpi": 100})
OK, BAD, FAULT = "#2e7d32", "#c62828", "#ffcc80"


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def availability_timeline(journals: list[dict[str, Any]], run_dir: Path, path: Path) -> Path | None:
    """Per experiment with load: successful and failed attempts per second, fault windows shaded."""
    with_load = [j for j in journals if j.get("load", {}).get("dir")]
    if not with_load:
        return None
    fig, axes = plt.subplots(len(with_load), 1, figsize=(9, 1.9 * len(with_load)), squeeze=False)
    for ax, journal in zip(axes[:, 0], with_load, strict=True):
        rows = read_requests(_local(Path(journal["load"]["dir"]), run_dir))
        window = journal["load"].get("window")  # a load shared by the series: this drill's slice of it
        if window:
            rows = [r for r in rows if window[0] <= r.ts <= window[1]]
        if not rows:
            continue
        start = rows[0].ts
        width = int(rows[-1].ts - start) + 1
        good, bad = [0] * width, [0] * width
        for r in rows:
            (good if r.ok else bad)[int(r.ts - start)] += 1
        ax.bar(range(width), good, width=1.0, color=OK, label="succeeded")
        ax.bar(range(width), bad, width=1.0, bottom=good, color=BAD, label="failed attempts")
        for activity in journal["activities"]:
            phases = activity["phases"]
            if phases.get("injected") and phases.get("rolled_back"):
                ax.axvspan(phases["injected"] - start, phases["rolled_back"] - start, color=FAULT, alpha=0.6,
                           label="fault held", zorder=0)
        ax.set_title(journal["experiment"]["name"], loc="left")
        ax.set_ylabel("requests/s")
        ax.set_xlim(0, width)
    axes[0, 0].legend(loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("seconds from the start of the load")
    return _save(fig, path)


def _local(load_dir: Path, run_dir: Path) -> Path:
    """A load folder recorded by absolute path may have moved with the bundle: find it under the run."""
    if load_dir.exists():
        return load_dir
    parts = load_dir.parts
    return run_dir.joinpath(*parts[parts.index("chaos"):]) if "chaos" in parts else load_dir


def latency_per_uplink(summary: dict[str, Any], path: Path) -> Path:
    uplinks = summary["per_uplink"]
    names = list(uplinks)
    fig, ax = plt.subplots(figsize=(6, 2.8))
    for offset, (key, color) in enumerate((("p50", "#90caf9"), ("p95", "#1e88e5"), ("p99", "#0d47a1"))):
        values = [uplinks[n][key] or 0 for n in names]
        ax.bar([i + offset * 0.27 for i in range(len(names))], values, width=0.27, color=color, label=key)
    ax.set_xticks([i + 0.27 for i in range(len(names))], names)
    ax.set_ylabel("latency (ms)")
    ax.set_title("Latency per uplink (successful requests)", loc="left")
    ax.legend(fontsize=7)
    return _save(fig, path)


def failover_phases(journals: list[dict[str, Any]], path: Path) -> Path | None:
    """Per fault: seconds from injection to detected, recovered, rolled back and verified."""
    bars = []
    for journal in journals:
        for a in journal["activities"]:
            p = a["phases"]
            if a["kind"] == "action" and p.get("injected"):
                bars.append((f"{journal['experiment']['name']}: {a['name']}"[:60], p))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(bars) + 1.2))
    colors = {"detected": "#ef6c00", "recovered": "#2e7d32", "rolled_back": "#6a1b9a", "verified": "#1565c0"}
    for y, (_, phases) in enumerate(bars):
        end = max(v for v in phases.values() if v) - phases["injected"]
        ax.barh(y, end, color="#eeeeee", height=0.6)
        for key, color in colors.items():
            if phases.get(key):
                ax.plot(phases[key] - phases["injected"], y, "|", color=color, markersize=12, mew=2.5,
                        label=key if y == 0 or key not in ax.get_legend_handles_labels()[1] else None)
    ax.set_yticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds after the fault was injected")
    ax.set_title("Failover phases", loc="left")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def media_calls(journals: list[dict[str, Any]], path: Path) -> Path | None:
    """Per drill that carried a call: packets/s arriving each way, fault windows shaded, moves to another node."""
    calls = [(j, c) for j in journals for c in j.get("media", []) if c.get("timeline")]
    if not calls:
        return None
    fig, axes = plt.subplots(len(calls), 1, figsize=(9, 1.9 * len(calls)), squeeze=False)
    for ax, (journal, call) in zip(axes[:, 0], calls, strict=True):
        timeline = call["timeline"]
        start, step = timeline["start"], timeline["bin_s"]
        for (direction, counts), color in zip(timeline["received"].items(), ("#1565c0", "#6a1b9a"), strict=False):
            ax.plot([i * step for i in range(len(counts))], [c / step for c in counts], color=color, lw=1,
                    label=direction)
        for activity in journal["activities"]:
            phases = activity["phases"]
            if phases.get("injected") and phases.get("rolled_back"):
                ax.axvspan(phases["injected"] - start, phases["rolled_back"] - start, color=FAULT, alpha=0.6,
                           label="fault held", zorder=0)
        for move in call["moves"]:
            ax.axvline(move["at"] - start, color=BAD, lw=1, ls="--", label=f"moved {move['from']} -> {move['to']}")
        ax.set_title(f"{journal['experiment']['name']}: call through {' -> '.join(call['nodes'])}, longest gap "
                     f"{call['longest_gap_s']} s", loc="left")
        ax.set_ylabel("packets/s")
        ax.legend(loc="lower right", fontsize=6)
    axes[-1, 0].set_xlabel("seconds from the call's first packet")
    return _save(fig, path)


def restore_phases(restore: dict[str, Any], path: Path) -> Path:
    """Stacked phases of each restore drill, and the projected RTO range against 4 h."""
    drills = restore["drills"]
    projection = restore.get("projection") or {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 2.8), gridspec_kw={"width_ratios": [3, 2]})
    keys = ["loss", "fetch_and_restore", "start", "wal_replay", "service_back", "verify"]
    palette = ["#b0bec5", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#546e7a"]
    for i, drill in enumerate(drills):
        left_edge = 0.0
        for key, color in zip(keys, palette, strict=True):
            value = drill["phases"].get(key, 0.0)
            left.barh(i, value, left=left_edge, color=color, label=key if i == 0 else None)
            left_edge += value
    left.set_yticks(range(len(drills)), [d["site"] for d in drills])
    left.set_xlabel("seconds")
    left.set_title("Restore drill phases (RTO)", loc="left")
    left.legend(fontsize=6, ncol=3, loc="upper right")
    if projection:
        low, high = projection["rto_low_s"] / 3600, projection["rto_high_s"] / 3600
        right.barh(0, max(high - low, 0.02 * max(5.0, high)), left=low, color="#1e88e5", height=0.4,
                   label=f"{low:.2f}-{high:.2f} h")
        right.axvline(4, color=BAD, linestyle="--", label="4 h (EH-2.2.3)")
        right.set_xlim(0, max(5.0, high * 1.2))
        right.set_yticks([0], [f"{projection['data_gb']:.0f} GB + {projection['wal_gb']:.0f} GB WAL"])
        right.set_xlabel("projected RTO (hours)")
        right.set_title("Projection", loc="left")
        right.legend(fontsize=7)
    return _save(fig, path)


def load_journals(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "chaos").glob("*/journal.json"))]

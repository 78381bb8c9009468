"""The experiment journal: every activity's start, end, status and error, saved as it happens.

The file is rewritten after every change, so a run killed mid-fault still leaves a
journal that says how far it got (status ``running``), for ``--cleanup`` and the report.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def stamp(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


@dataclass
class Activity:
    name: str
    kind: str
    """action (a fault), probe, rollback or load."""
    target: str = ""
    start: float | None = None
    end: float | None = None
    status: str = "running"
    """running, succeeded, failed, or not_possible_here."""
    error: str = ""
    phases: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    output: Any = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["start_at"], data["end_at"] = stamp(self.start), stamp(self.end)
        data["phases_at"] = {k: stamp(v) for k, v in self.phases.items()}
        return data


@dataclass
class Journal:
    path: Path
    experiment: dict[str, Any]
    failure_mode: str
    started: float = field(default_factory=time.time)
    ended: float | None = None
    status: str = "running"
    """running, completed (the hypothesis was tested), failed (the drill could not run), aborted."""
    deviated: bool = False
    verdict: str = "not_tested"
    reason: str = ""
    hypothesis: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    activities: list[Activity] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    goals: dict[str, dict[str, Any]] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    media: list[dict[str, Any]] = field(default_factory=list)
    """The calls carried during the drill (``media-call`` probes): figures per direction, moves between nodes."""
    uploads: dict[str, Any] = field(default_factory=dict)
    """The drill's records for the supervision platform (``supervision-drained``): GD-3.2.1's figures."""

    def begin(self, name: str, kind: str, target: str = "") -> Activity:
        activity = Activity(name, kind, target, start=time.time())
        self.activities.append(activity)
        self.save()
        return activity

    def finish(self, activity: Activity, status: str, error: str = "") -> None:
        activity.end, activity.status, activity.error = time.time(), status, error
        self.save()

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment, "failure_mode": self.failure_mode,
            "started": stamp(self.started), "ended": stamp(self.ended), "status": self.status,
            "deviated": self.deviated, "verdict": self.verdict, "reason": self.reason,
            "hypothesis": self.hypothesis, "activities": [a.to_json() for a in self.activities],
            "measurements": self.measurements, "goals": self.goals, "load": self.load,
            "timeline": self.timeline, "media": self.media, "uploads": self.uploads,
        }

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False))
        tmp.replace(self.path)

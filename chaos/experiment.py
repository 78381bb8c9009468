"""Chaos experiments as data: one YAML file per scenario, validated before anything is injected.

The format follows the Chaos Toolkit's shape (a steady-state hypothesis, a method,
rollbacks) with this harness's probes and fault providers, so an SRE writes a new
drill without Python::

    version: 1
    title: Uplink outage, one provider at a time
    failure_mode: uplink-outage            # a mode of ihh:incidentsPerYear
    requirements: [GD-3.2.3, GD-1.2.5]
    load: {users: 12}                      # optional: Locust alongside, for user-visible windows
    steady-state-hypothesis:               # must hold before, during and after (or the phases named)
      title: Patients reach the service
      probes:
        - {name: ready, probe: service-ready, arguments: {need: any}}
    monitors:                              # probed throughout for timings, allowed to fail
        - {name: writes, probe: service-write}
    method:
      - {name: cut the first uplink, fault: uplink-cut, arguments: {uplink: 0}, hold_s: 8}
    #   until_recovered: writes           # optional: end the hold 3 s after that probe failed and came back
    goals: {user_visible_outage_s: 0, raw_error_window_s: 1.0}

Each method step is injected, held while the probes run, then rolled back before the
next step: faults never overlap. Rollbacks are each fault's own undo; ``rollbacks``
may add extra steps run afterwards (for instance ``wait-cluster-whole``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaos.faults import FAULTS
from chaos.probes import PROBES
from chaos.rollbacks import ROLLBACKS
from infra.config import FAILURE_MODES

EXPERIMENTS_DIR = Path(__file__).with_name("experiments")
GOALS = {"user_visible_outage_s", "raw_error_window_s", "client_error_window_s", "writes_back_s", "recovered_s",
         "rpo_rows", "false_failovers", "dual_writable_rounds", "whole_after_heal_s",
         "old_primary_writable_s", "promoted_standby_rounds", "wal_alarm_missed", "media_gap_s",
         "media_loss_outside_gap_pct", "media_dropped_calls", "upload_missing", "upload_duplicated",
         "upload_out_of_order", "upload_steady_lag_p95_s", "upload_drain_s"}
PHASES = ("before", "during", "after")


class ExperimentError(ValueError):
    """A malformed experiment file: which file, which field, which rule."""

    def __init__(self, source: str, field_name: str, rule: str) -> None:
        super().__init__(f"{source}: {field_name}: {rule}")
        self.field = field_name
        self.rule = rule


@dataclass(frozen=True)
class Probe:
    name: str
    probe: str
    arguments: dict[str, Any]
    phases: tuple[str, ...]
    """When the probe is part of the hypothesis: before, during and/or after the fault."""


@dataclass(frozen=True)
class Step:
    name: str
    fault: str
    arguments: dict[str, Any]
    hold_s: float
    verify_within_s: float
    until_recovered: str | None = None
    """A monitor or probe name: the hold ends ``SETTLE_S`` after it failed and came back (at most ``hold_s``),
    as the drill has then shown what it is for; a fixed hold past that point measures nothing."""


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    failure_mode: str
    requirements: tuple[str, ...]
    description: str
    hypothesis_title: str
    probes: tuple[Probe, ...]
    """The hypothesis: each must hold in the phases it names; failing during a fault deviates the experiment."""
    monitors: tuple[Probe, ...]
    """Probed continuously for phase timings (detected, recovered) without being part of the hypothesis."""
    method: tuple[Step, ...]
    rollbacks: tuple[str, ...]
    load_users: int
    goals: dict[str, float]
    probe_interval_s: float = 0.5
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _get(raw: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, required: bool = True,
         default: Any = None) -> Any:
    if key not in raw:
        if required:
            raise ExperimentError(where, key, "is required")
        return default
    value = raw[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ExperimentError(where, key, f"must be {names}, got {type(value).__name__}")
    return value


def _unknown(raw: dict[str, Any], allowed: set[str], source: str, prefix: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        known = ", ".join(sorted(allowed))
        raise ExperimentError(source, f"{prefix}{extra[0]}", f"is not a known field (known: {known})")


def _probe(raw: Any, source: str, where: str) -> Probe:
    if not isinstance(raw, dict):
        raise ExperimentError(source, where, "must be a mapping with name and probe")
    _unknown(raw, {"name", "probe", "arguments", "phases"}, source, f"{where}.")
    kind = _get(raw, "probe", str, source)
    if kind not in PROBES:
        raise ExperimentError(source, f"{where}.probe", f"unknown probe {kind!r}; known: {', '.join(PROBES.names())}")
    phases = tuple(_get(raw, "phases", list, source, required=False, default=list(PHASES)))
    bad = [p for p in phases if p not in PHASES]
    if bad or not phases:
        raise ExperimentError(source, f"{where}.phases", f"must be a non-empty list of {', '.join(PHASES)}")
    return Probe(_get(raw, "name", str, source), kind, dict(_get(raw, "arguments", dict, source, False, {})), phases)


def _step(raw: Any, source: str, where: str) -> Step:
    if not isinstance(raw, dict):
        raise ExperimentError(source, where, "must be a mapping with name and fault")
    _unknown(raw, {"name", "fault", "arguments", "hold_s", "verify_within_s", "until_recovered"}, source, f"{where}.")
    kind = _get(raw, "fault", str, source)
    if kind not in FAULTS:
        raise ExperimentError(source, f"{where}.fault", f"unknown fault {kind!r}; known: {', '.join(FAULTS.names())}")
    hold = float(_get(raw, "hold_s", (int, float), source))
    if not 0 <= hold <= 300:
        raise ExperimentError(source, f"{where}.hold_s", f"must be between 0 and 300 seconds, got {hold}")
    verify = float(_get(raw, "verify_within_s", (int, float), source, False, 60))
    if not 1 <= verify <= 600:
        raise ExperimentError(source, f"{where}.verify_within_s", f"must be between 1 and 600 seconds, got {verify}")
    until = _get(raw, "until_recovered", str, source, False, None)
    return Step(_get(raw, "name", str, source), kind, dict(_get(raw, "arguments", dict, source, False, {})),
                hold, verify, until)


def parse_experiment(raw: Any, name: str, source: str) -> Experiment:
    """Check every field; the first problem raises ExperimentError naming it."""
    if not isinstance(raw, dict):
        raise ExperimentError(source, "(top level)", "must be a mapping")
    _unknown(raw, {"version", "title", "failure_mode", "requirements", "description", "load",
                   "steady-state-hypothesis", "monitors", "method", "rollbacks", "goals", "probe_interval_s"},
             source, "")
    if raw.get("version") != 1:
        raise ExperimentError(source, "version", f"must be 1, got {raw.get('version')!r}")
    hypothesis, probes = _hypothesis(raw, source)
    method = _get(raw, "method", list, source)
    if not method:
        raise ExperimentError(source, "method", "needs at least one step")
    experiment = Experiment(
        name=name, title=_get(raw, "title", str, source), failure_mode=_failure_mode(raw, source),
        requirements=tuple(_get(raw, "requirements", list, source, False, [])),
        description=str(raw.get("description", "")).strip(),
        hypothesis_title=str(hypothesis.get("title", "")), probes=probes,
        monitors=tuple(_probe(p, source, f"monitors[{i}]")
                       for i, p in enumerate(_get(raw, "monitors", list, source, False, []))),
        method=tuple(_step(s, source, f"method[{i}]") for i, s in enumerate(method)),
        rollbacks=_rollbacks(raw, source), load_users=_load_users(raw, source), goals=_goals(raw, source),
        probe_interval_s=_probe_interval(raw, source), source=source,
    )
    watched = {p.name for p in (*experiment.probes, *experiment.monitors)}
    for i, step in enumerate(experiment.method):
        if step.until_recovered is not None and step.until_recovered not in watched:
            raise ExperimentError(source, f"method[{i}].until_recovered", f"must name a probe or monitor of this "
                                  f"experiment, got {step.until_recovered!r}; known: {', '.join(sorted(watched))}")
    return experiment


def _failure_mode(raw: dict[str, Any], source: str) -> str:
    mode = _get(raw, "failure_mode", str, source)
    if mode not in FAILURE_MODES and mode != "none":
        raise ExperimentError(source, "failure_mode", f"unknown mode {mode!r}; known: {', '.join(FAILURE_MODES)}, none")
    return str(mode)


def _hypothesis(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], tuple[Probe, ...]]:
    hypothesis = _get(raw, "steady-state-hypothesis", dict, source)
    _unknown(hypothesis, {"title", "probes"}, source, "steady-state-hypothesis.")
    probes = _get(hypothesis, "probes", list, source)
    if not probes:
        raise ExperimentError(source, "steady-state-hypothesis.probes", "needs at least one probe")
    return hypothesis, tuple(_probe(p, source, f"steady-state-hypothesis.probes[{i}]") for i, p in enumerate(probes))


def _rollbacks(raw: dict[str, Any], source: str) -> tuple[str, ...]:
    rollbacks = tuple(_get(raw, "rollbacks", list, source, False, []))
    for i, step in enumerate(rollbacks):
        if step not in ROLLBACKS:
            known = ", ".join(ROLLBACKS.names())
            raise ExperimentError(source, f"rollbacks[{i}]", f"unknown step {step!r}; known: {known}")
    return rollbacks


def _load_users(raw: dict[str, Any], source: str) -> int:
    load = _get(raw, "load", dict, source, False, {})
    _unknown(load, {"users"}, source, "load.")
    users = int(_get(load, "users", int, source, False, 0))
    if not 0 <= users <= 200:
        raise ExperimentError(source, "load.users", f"must be between 0 and 200, got {users}")
    return users


def _goals(raw: dict[str, Any], source: str) -> dict[str, float]:
    goals = _get(raw, "goals", dict, source, False, {})
    for key, value in goals.items():
        if key not in GOALS:
            raise ExperimentError(source, f"goals.{key}", f"is not a known goal (known: {', '.join(sorted(GOALS))})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ExperimentError(source, f"goals.{key}", f"must be a non-negative number, got {value!r}")
    return {k: float(v) for k, v in goals.items()}


def _probe_interval(raw: dict[str, Any], source: str) -> float:
    interval = float(_get(raw, "probe_interval_s", (int, float), source, False, 0.5))
    if not 0.1 <= interval <= 10:
        raise ExperimentError(source, "probe_interval_s", f"must be between 0.1 and 10, got {interval}")
    return interval


def load_experiment(path: Path) -> Experiment:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ExperimentError(str(path), "(file)", f"is not valid YAML: {exc}") from exc
    return parse_experiment(raw, path.stem, str(path))


def find_experiments(names: list[str]) -> list[Experiment]:
    """Named experiments (a name in chaos/experiments or a path), or every one; all validated first."""
    if not names:
        paths = sorted(EXPERIMENTS_DIR.glob("*.yaml"))
    else:
        paths = []
        for name in names:
            path = Path(name) if name.endswith((".yaml", ".yml")) else EXPERIMENTS_DIR / f"{name}.yaml"
            if not path.exists():
                known = ", ".join(p.stem for p in sorted(EXPERIMENTS_DIR.glob("*.yaml")))
                raise ExperimentError(name, "(name)", f"no such experiment; known: {known}")
            paths.append(path)
    return [load_experiment(p) for p in paths]

"""The 99.9 % availability verdict (EH-2.2.1), read the way a statistician would.

Two parts. Steady state: the success ratio of user-visible operations and its
one-sided 95 % Clopper–Pearson lower bound, which must reach the target. Under
faults: per failure mode, expected incidents a year (stack config) times the outage
a drill measured, summed against the 8.76 h a year that 99.9 % allows, with the
30-day error budget's burn beside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scipy.stats import beta

from infra.config import FAILURE_MODE_REPORTS

TARGET = 0.999
CONFIDENCE = 0.95
HOURS_A_YEAR = 24 * 365
BUDGET_WINDOW_DAYS = 30
Verdict = Literal["pass", "fail", "not_tested"]


def clopper_pearson_lower(successes: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided lower confidence bound of a binomial proportion (exact, via the beta distribution)."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    if successes == 0:
        return 0.0
    return float(beta.ppf(1 - confidence, successes, trials - successes + 1))


def operations_needed(target: float = TARGET, confidence: float = CONFIDENCE) -> int:
    """Failure-free operations after which the lower bound reaches ``target``: n with target**n <= 1-confidence."""
    return math.ceil(math.log(1 - confidence) / math.log(target))


@dataclass(frozen=True)
class SteadyState:
    operations: int
    successes: int
    ratio: float
    lower_bound: float
    target: float
    needed_failure_free: int
    verdict: Verdict
    reason: str


def steady_state(successes: int, operations: int, target: float = TARGET) -> SteadyState:
    needed = operations_needed(target)
    if operations == 0:
        return SteadyState(0, 0, 0.0, 0.0, target, needed, "not_tested", "no user-visible operation was measured")
    lower = clopper_pearson_lower(successes, operations)
    ratio = successes / operations
    if lower >= target:
        verdict: Verdict = "pass"
        reason = f"lower bound {lower:.5f} >= {target} over {operations} operations"
    elif ratio < target:
        verdict = "fail"
        reason = f"success ratio {ratio:.5f} is below {target} ({operations - successes} failed of {operations})"
    else:
        verdict = "not_tested"
        reason = (f"ratio {ratio:.5f} but the lower bound {lower:.5f} is below {target}: too few operations "
                  f"to claim it ({operations}; failure-free needs >= {needed})")
    return SteadyState(operations, successes, ratio, lower, target, needed, verdict, reason)


@dataclass(frozen=True)
class ModeDowntime:
    mode: str
    incidents_per_year: float
    outage_seconds: float | None
    """The user-visible outage one incident caused in its drill; None when no drill measured it."""
    source: str = ""
    incident_report: str = ""
    """A published report of one such incident (infra.config.FAILURE_MODE_REPORTS): what it cost elsewhere."""

    @property
    def hours_a_year(self) -> float | None:
        if self.outage_seconds is None:
            return None
        return self.incidents_per_year * self.outage_seconds / 3600


@dataclass(frozen=True)
class DowntimeModel:
    modes: list[ModeDowntime]
    allowed_hours: float
    expected_hours: float
    unmeasured: list[str]
    budget_minutes_30d: float
    projected_minutes_30d: float
    budget_burn_30d: float
    verdict: Verdict
    reason: str


def downtime_model(rates: dict[str, float], outages: dict[str, tuple[float, str]],
                   target: float = TARGET) -> DowntimeModel:
    """Sum over modes of incidents a year x measured outage, against what ``target`` allows."""
    modes = [ModeDowntime(m, r, *(outages[m] if m in outages else (None, "")),
                          incident_report=FAILURE_MODE_REPORTS.get(m, ("", ""))[1]) for m, r in sorted(rates.items())]
    allowed = HOURS_A_YEAR * (1 - target)
    expected = sum(m.hours_a_year or 0.0 for m in modes)
    unmeasured = [m.mode for m in modes if m.outage_seconds is None and m.incidents_per_year > 0]
    budget = BUDGET_WINDOW_DAYS * 24 * 60 * (1 - target)
    projected = expected * 60 * BUDGET_WINDOW_DAYS / 365
    if expected > allowed:
        verdict: Verdict = "fail"
        reason = f"expected downtime {expected:.2f} h a year exceeds the {allowed:.2f} h that {target:.1%} allows"
    elif unmeasured:
        verdict = "not_tested"
        reason = (f"{expected:.3f} h a year from measured modes, but no drill measured: {', '.join(unmeasured)}")
    else:
        verdict = "pass"
        reason = f"expected downtime {expected:.3f} h a year is within {allowed:.2f} h"
    return DowntimeModel(modes, allowed, expected, unmeasured, budget, projected, projected / budget, verdict, reason)


@dataclass(frozen=True)
class AvailabilityVerdict:
    requirement: str
    verdict: Verdict
    reason: str
    steady: SteadyState
    faults: DowntimeModel
    steady_burn_rate: float
    """Error-budget burn rate of the steady run: its failure ratio over the (1 - target) budget."""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def availability_verdict(steady: SteadyState, faults: DowntimeModel) -> AvailabilityVerdict:
    """Fail if either part fails; not_tested if either lacks data; pass only when both hold."""
    parts = {"steady state": steady, "under faults": faults}
    failed = [f"{name}: {p.reason}" for name, p in parts.items() if p.verdict == "fail"]
    missing = [f"{name}: {p.reason}" for name, p in parts.items() if p.verdict == "not_tested"]
    if failed:
        verdict: Verdict = "fail"
        reason = "; ".join(failed + missing)
    elif missing:
        verdict = "not_tested"
        reason = "; ".join(missing)
    else:
        verdict = "pass"
        reason = f"steady state: {steady.reason}; under faults: {faults.reason}"
    burn = (1 - steady.ratio) / (1 - steady.target) if steady.operations else 0.0
    return AvailabilityVerdict("EH-2.2.1", verdict, reason, steady, faults, burn)

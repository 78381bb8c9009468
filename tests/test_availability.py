"""The availability statistics against known values and against their definitions."""

from __future__ import annotations

import math

import pytest

from loadtests.availability import (
    availability_verdict,
    clopper_pearson_lower,
    downtime_model,
    operations_needed,
    steady_state,
)


def binomial_upper_tail(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p), summed exactly."""
    return sum(math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(successes, trials + 1))


@pytest.mark.parametrize(("successes", "trials", "known"), [
    (9, 10, 0.6058367),   # R: binom.test(9, 10, alternative = "greater")$conf.int[1]
    (10, 10, 0.7411344),  # zero failures: 0.05 ** (1 / 10)
    (2995, 2995, 0.05 ** (1 / 2995)),
])
def test_lower_bound_known_values(successes: int, trials: int, known: float) -> None:
    assert clopper_pearson_lower(successes, trials) == pytest.approx(known, abs=1e-7)


@pytest.mark.parametrize(("successes", "trials"), [(95, 100), (480, 500), (1, 20), (997, 1000)])
def test_lower_bound_meets_its_definition(successes: int, trials: int) -> None:
    """The bound is the p at which seeing this many successes or more has probability 5 %."""
    lower = clopper_pearson_lower(successes, trials)
    assert binomial_upper_tail(successes, trials, lower) == pytest.approx(0.05, rel=1e-6)


def test_no_successes_bound_is_zero_and_bad_counts_are_refused() -> None:
    assert clopper_pearson_lower(0, 10) == 0.0
    with pytest.raises(ValueError, match="successes <= trials"):
        clopper_pearson_lower(11, 10)


def test_about_three_thousand_failure_free_operations_claim_three_nines() -> None:
    assert operations_needed(0.999) == 2995
    assert steady_state(2995, 2995).verdict == "pass"
    assert steady_state(2994, 2994).verdict == "not_tested"


def test_steady_state_verdicts() -> None:
    assert steady_state(9_000, 10_000).verdict == "fail"
    failing = steady_state(9_990, 10_000)
    assert failing.verdict == "not_tested" and "lower bound" in failing.reason
    assert steady_state(20_000, 20_000).lower_bound > 0.9998
    assert steady_state(0, 0).verdict == "not_tested"


def test_downtime_model_sums_incidents_times_outage() -> None:
    rates = {"uplink-outage": 6.0, "database-primary-failure": 2.0}
    model = downtime_model(rates, {"uplink-outage": (1.0, "j1"), "database-primary-failure": (15.0, "j2")})
    assert model.expected_hours == pytest.approx((6 * 1 + 2 * 15) / 3600)
    assert model.allowed_hours == pytest.approx(8.76)
    assert model.budget_minutes_30d == pytest.approx(43.2)
    assert model.projected_minutes_30d == pytest.approx(model.expected_hours * 60 * 30 / 365)
    assert model.verdict == "pass"
    assert all(m.incident_report == "" for m in model.modes), "no published report is claimed for these modes"
    partition = downtime_model({"database-primary-partition": 1.0}, {"database-primary-partition": (0.0, "j")})
    assert partition.modes[0].incident_report.startswith("https://github.blog/")


def test_downtime_model_fails_beyond_the_allowance_and_names_unmeasured_modes() -> None:
    over = downtime_model({"site-power-loss": 2.0}, {"site-power-loss": (6 * 3600.0, "j")})
    assert over.verdict == "fail" and "12.00 h" in over.reason
    partial = downtime_model({"uplink-outage": 6.0, "av-node-failure": 4.0}, {"uplink-outage": (1.0, "j")})
    assert partial.verdict == "not_tested" and partial.unmeasured == ["av-node-failure"]
    assert downtime_model({"av-node-failure": 0.0}, {}).verdict == "pass"


def test_overall_verdict_fails_when_either_part_fails() -> None:
    good_faults = downtime_model({"uplink-outage": 6.0}, {"uplink-outage": (1.0, "j")})
    assert availability_verdict(steady_state(5000, 5000), good_faults).verdict == "pass"
    failed = availability_verdict(steady_state(900, 1000), good_faults)
    assert failed.verdict == "fail" and failed.reason.startswith("steady state")
    assert failed.steady_burn_rate == pytest.approx(100.0)
    assert availability_verdict(steady_state(5000, 5000), downtime_model({"uplink-outage": 6.0}, {})).verdict == \
        "not_tested"

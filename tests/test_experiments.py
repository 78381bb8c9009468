"""Experiment files are validated before anything is injected; phases are read off the probe rounds."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.experiment import ExperimentError, find_experiments, parse_experiment
from chaos.faults import FAULTS
from chaos.runner import (
    needs_database,
    old_primary_writable_s,
    phases_from_rounds,
    pick_next,
    promoted_standby_rounds,
    writable_changes,
)
from infra.config import FAILURE_MODES

VALID: dict[str, Any] = {
    "version": 1,
    "title": "t",
    "failure_mode": "uplink-outage",
    "steady-state-hypothesis": {"title": "h", "probes": [{"name": "r", "probe": "service-ready"}]},
    "method": [{"name": "cut", "fault": "uplink-cut", "arguments": {"uplink": 0}, "hold_s": 5}],
}


def test_every_committed_experiment_is_valid_and_every_failure_mode_has_a_drill() -> None:
    experiments = find_experiments([])
    assert {e.failure_mode for e in experiments} >= set(FAILURE_MODES)
    for experiment in experiments:
        assert experiment.method and experiment.probes and experiment.title


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"version": 2}, "version", "must be 1"),
    ({"failure_mode": "meteor"}, "failure_mode", "unknown mode"),
    ({"method": []}, "method", "at least one step"),
    ({"method": [{"name": "x", "fault": "unplug-everything", "hold_s": 1}]}, "method[0].fault", "unknown fault"),
    ({"method": [{"name": "x", "fault": "uplink-cut", "hold_s": 900}]}, "method[0].hold_s", "between 0 and 300"),
    ({"method": [{"name": "x", "fault": "uplink-cut"}]}, "hold_s", "is required"),
    ({"method": [{"name": "x", "fault": "uplink-cut", "hold_s": "long"}]}, "hold_s", "must be int or float"),
    ({"steady-state-hypothesis": {"probes": [{"name": "p", "probe": "vibes"}]}},
     "steady-state-hypothesis.probes[0].probe", "unknown probe"),
    ({"steady-state-hypothesis": {"probes": [{"name": "p", "probe": "service-ready", "phases": ["later"]}]}},
     "steady-state-hypothesis.probes[0].phases", "non-empty list"),
    ({"goals": {"happiness": 1}}, "goals.happiness", "not a known goal"),
    ({"goals": {"rpo_rows": -1}}, "goals.rpo_rows", "non-negative"),
    ({"rollbacks": ["pray"]}, "rollbacks[0]", "unknown step"),
    ({"colour": "red"}, "colour", "not a known field"),
    ({"load": {"users": 5000}}, "load.users", "between 0 and 200"),
])
def test_a_malformed_experiment_names_the_field(change: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(ExperimentError) as caught:
        parse_experiment({**VALID, **change}, "x", "x.yaml")
    assert caught.value.field == field
    assert rule in caught.value.rule
    assert str(caught.value).startswith(f"x.yaml: {field}: ")


def test_an_unknown_experiment_name_lists_the_known_ones() -> None:
    with pytest.raises(ExperimentError, match=r"no such experiment; known: .*uplink-outage"):
        find_experiments(["no-such-drill"])


def test_phases_are_the_first_failing_round_and_the_first_green_one_after_it() -> None:
    rounds = [{"t": t, "failed": failed} for t, failed in
              [(9.0, {"w": "x"}), (10.5, {}), (11.0, {"w": "down"}), (11.5, {"w": "down", "r": "x"}), (12.0, {}),
               (13.0, {"w": "again"})]]
    assert phases_from_rounds(rounds, injected=10.0, until=20.0) == (11.0, 12.0)
    assert phases_from_rounds(rounds, injected=10.0, until=20.0, probe="r") == (11.5, 12.0)
    assert phases_from_rounds(rounds, injected=12.5, until=20.0) == (13.0, None)
    assert phases_from_rounds(rounds, injected=14.0, until=20.0) == (None, None)


def _rounds(*writable: tuple[float, str]) -> list[dict[str, Any]]:
    """Probe rounds whose writable-members probe ("split") saw these members taking writes."""
    return [{"t": t, "failed": {}, "detail": {"split": ", ".join(
        f"{m} {'writable' if m in members.split() else 'standby'}" for m in ("db-1", "db-2"))}}
        for t, members in writable]


def test_the_old_primary_is_writable_until_the_first_round_that_finds_it_not() -> None:
    rounds = _rounds((8.0, "db-1"), (10.5, "db-1"), (12.0, "db-1"), (14.0, ""), (16.0, "db-2"))
    assert old_primary_writable_s(rounds, {"split"}, injected=10.0) == 4.0  # seen at 12.0, gone at 14.0
    assert old_primary_writable_s(_rounds((8.0, "db-1"), (10.5, ""), (12.0, "db-2")), {"split"}, 10.0) == 0.5
    assert old_primary_writable_s(_rounds((8.0, ""), (10.5, "db-2")), {"split"}, 10.0) == 0.0  # none before
    assert [c["writable"] for c in writable_changes(rounds, {"split"})] == [["db-1"], [], ["db-2"]]


def test_a_standby_taking_writes_after_the_fault_is_counted_per_round() -> None:
    failover = _rounds((8.0, "db-1"), (10.5, ""), (12.0, "db-2"), (13.0, "db-2"))
    assert promoted_standby_rounds(failover, {"split"}, injected=10.0) == 2
    waited = _rounds((8.0, "db-1"), (10.5, ""), (12.0, ""), (30.0, "db-1"))  # the old primary back: no promotion
    assert promoted_standby_rounds(waited, {"split"}, injected=10.0) == 0
    staged = _rounds((8.0, "db-1"), (9.0, ""), (10.5, ""), (12.0, "db-2"))  # the primary stopped before injection
    assert promoted_standby_rounds(staged, {"split"}, injected=10.0) == 0, "no primary right before: not judged"
    assert promoted_standby_rounds(failover, {"split"}, injected=10.0, healed=12.5) == 1, "only while the fault held"
    assert promoted_standby_rounds(staged, {"split"}, injected=10.0, started=8.5) == 1
    assert old_primary_writable_s(staged, {"split"}, injected=10.0, started=8.5) == 0.5


def test_a_partition_names_its_action_and_refuses_any_other() -> None:
    describe = FAULTS.get("primary-partition").describe  # the leader is resolved only when injected
    with pytest.raises(ValueError, match=r"arguments.action must be DROP or REJECT, got 'BLACKHOLE'"):
        describe(None, {"action": "BLACKHOLE"})  # type: ignore[arg-type]
    assert describe(None, {"action": "reject"}).startswith("REJECT every packet")  # type: ignore[arg-type]


def test_a_clock_step_names_its_member_and_size_and_refuses_others() -> None:
    describe = FAULTS.get("clock-step").describe
    assert "standby's host by -60 s" in describe(None, {"member": "standby", "step_s": -60})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"arguments.member must be leader or standby, got 'primary'"):
        describe(None, {"member": "primary"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"arguments.step_s must be 1 to 86400 seconds either way, got 0"):
        describe(None, {"step_s": 0})  # type: ignore[arg-type]


def test_a_hold_until_recovered_must_name_a_probe_of_the_experiment() -> None:
    step = {**VALID["method"][0], "until_recovered": "writes"}
    with pytest.raises(ExperimentError, match=r"method\[0\].until_recovered: must name a probe or monitor of this "
                                              r"experiment, got 'writes'; known: r"):
        parse_experiment({**VALID, "method": [step]}, "t", "t.yaml")
    monitored = parse_experiment({**VALID, "method": [step], "monitors": [{"name": "writes",
                                                                         "probe": "service-write"}]}, "t", "t.yaml")
    assert monitored.method[0].until_recovered == "writes"


def test_a_wal_disk_fill_names_its_alarm_stage_and_refuses_a_bad_one() -> None:
    describe = FAULTS.get("wal-disk-full").describe
    assert "below its alarm level (2 x max_wal_size free) for 5 s" in describe(None, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"arguments.alarm_stage_s must be 0 to 600 seconds, got 900"):
        describe(None, {"alarm_stage_s": 900})  # type: ignore[arg-type]


def test_a_drill_whose_every_fault_was_not_possible_is_not_tested_not_passed(tmp_path) -> None:
    from chaos.journal import Journal
    from chaos.runner import _judge

    experiment = parse_experiment({**VALID, "goals": {"user_visible_outage_s": 0, "writes_back_s": 15}}, "t", "t.yaml")
    journal = Journal(tmp_path / "journal.json", {"name": "t"}, "uplink-outage")
    journal.finish(journal.begin("cut", "action"), "not_possible_here", "no such line here")
    journal.measurements = {"user_visible_outage_s": 0}  # writes_back_s unmeasured: nothing failed over
    _judge(experiment, journal)
    assert journal.verdict == "not_tested" and not journal.deviated
    assert journal.reason == "not possible here: cut: no such line here"
    assert {g["met"] for g in journal.goals.values()} == {None}, "goals of a drill with no fault are unjudged"
    journal.finish(journal.begin("heal", "action"), "succeeded")
    _judge(experiment, journal)
    assert journal.verdict == "fail" and "writes_back_s None > 15.0" in journal.reason, "one fault went in: judged"


def test_a_goal_only_load_measures_is_not_tested_without_load_not_failed(tmp_path) -> None:
    from chaos.journal import Journal
    from chaos.runner import _judge

    experiment = parse_experiment({**VALID, "goals": {"user_visible_outage_s": 0, "raw_error_window_s": 2}}, "t",
                                  "t.yaml")
    journal = Journal(tmp_path / "journal.json", {"name": "t"}, "app-server-kill")
    journal.finish(journal.begin("kill", "action"), "succeeded")
    journal.measurements = {"user_visible_outage_s": 0}  # the probes' outage: no load ran
    _judge(experiment, journal)
    assert journal.verdict == "not_tested" and journal.goals["raw_error_window_s"]["met"] is None
    assert journal.reason == "raw_error_window_s not measured: no load ran alongside (--no-load)"
    journal.measurements = {"user_visible_outage_s": 3.5}
    _judge(experiment, journal)
    assert journal.verdict == "fail", "a goal measured and missed still fails the drill"


def test_a_slow_heal_says_what_the_hypothesis_was_still_waiting_on(tmp_path) -> None:
    from chaos.journal import Journal
    from chaos.runner import _judge, _waited_on

    experiment = parse_experiment({**VALID, "goals": {"whole_after_heal_s": 60}}, "t", "t.yaml")
    journal = Journal(tmp_path / "journal.json", {"name": "t"}, "wal-disk-full")
    activity = journal.begin("fill", "action")
    journal.finish(activity, "succeeded")
    activity.notes.append(_waited_on({"writes": (103.0, "HTTP 503"), "sync-standby": (177.5, "0 of 1 streaming")},
                                     since=100.0))
    journal.measurements = {"whole_after_heal_s": 78.0}
    _judge(experiment, journal)
    assert journal.verdict == "fail"
    assert journal.reason == ("whole_after_heal_s 78.0 > 60.0 (waited on: sync-standby until +77.5 s "
                              "(0 of 1 streaming); writes until +3.0 s (HTTP 503))")


def test_while_the_dcs_recovers_a_drill_off_the_database_goes_first_and_only_then() -> None:
    quorum, partition, uplink, supervision = find_experiments(
        ["dcs-quorum-loss", "dcs-quorum-partition", "uplink-outage", "supervision-platform"])
    assert needs_database(partition) and not needs_database(uplink)
    asked: list[bool] = []

    def recovering() -> bool:
        asked.append(True)
        return True

    assert pick_next([partition, uplink, supervision], recovering) is uplink
    assert pick_next([partition, uplink], lambda: False) is partition, "in touch again: the order stands"
    assert pick_next([partition, quorum], recovering) is partition, "nothing to run meanwhile: the drill waits"
    asked.clear()
    assert pick_next([uplink, partition], recovering) is uplink and not asked, "off the database: no need to ask"

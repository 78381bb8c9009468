"""The backup schedule: config rules, what the copy's own timer finds due, when a copy is stale, missed periods."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from dataclasses import replace
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from harness.core.outputs import BackupSchedule
from harness.core.pgbackrest import lock_busy, missed_periods
from harness.evidence.verdicts import backup_items
from infra.config import BackupSchedule as ConfiguredSchedule
from infra.config import ConfigError, parse_config
from tests.helpers import stack_values

SCHEDULER = Path(__file__).parents[1] / "images/backup/rootfs/usr/local/lib/ihh/backup-scheduler"
H, D = 3600, 86400
CFG = {"full_s": 7 * D, "diff_s": D, "incr_s": H}


def _scheduler():
    loader = importlib.machinery.SourceFileLoader("backup_scheduler", str(SCHEDULER))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("backup_scheduler", loader))
    loader.exec_module(module)
    return module


def test_the_defaults_are_a_dbas_and_a_schedule_is_read_in_durations() -> None:
    assert parse_config("local", stack_values("local")).backup_schedule == ConfiguredSchedule(7 * D, D, H, 1800)
    parsed = parse_config("local", stack_values("local", backupSchedule={"full": "6m", "diff": "3m", "incr": "1m",
                                                                         "slack": "30s"}))
    assert parsed.backup_schedule == ConfiguredSchedule(360, 180, 60, 30)


@pytest.mark.parametrize(("schedule", "key", "rule"), [
    ({"incr": "hourly"}, "backupSchedule.incr", "must be a duration like 90s, 15m, 1h or 7d"),
    ({"full": "1h", "diff": "1d"}, "backupSchedule", "needs full >= diff >= incr >= 1m"),
    ({"incr": "30s", "diff": "30s", "full": "30s"}, "backupSchedule", "needs full >= diff >= incr >= 1m"),
    ({"weekly": "7d"}, "backupSchedule.weekly", "unknown key"),
])
def test_a_bad_schedule_is_refused_naming_the_key_and_rule(schedule: dict, key: str, rule: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("local", stack_values("local", backupSchedule=schedule))
    assert error.value.key == key and rule in error.value.rule


@pytest.mark.parametrize(("backups", "due"), [
    ([], "full"),
    ([("full", 8 * D)], "full"),
    ([("full", 2 * D)], "diff"),
    ([("full", 2 * D), ("diff", 2 * H)], "incr"),
    ([("full", 2 * D), ("diff", 3 * H), ("incr", 10 * 60)], None),
    ([("full", 30 * 60)], None),
])
def test_the_timer_runs_the_most_encompassing_backup_that_is_due(backups: list, due: str | None) -> None:
    now = 10 * D
    records = [{"type": kind, "timestamp": {"stop": now - age}} for kind, age in backups]
    assert _scheduler().due(CFG, records, now) == due


def test_stale_reasons_name_the_age_and_the_limit() -> None:
    schedule = BackupSchedule(7 * D, D, H, 1800)
    assert schedule.stale_reasons(D, 600) == []
    assert schedule.stale_reasons(None, None) == ["no full backup"]
    assert schedule.stale_reasons(8 * D, 600) == ["newest full backup is 192.0 h old, limit 168.5 h"]
    assert schedule.stale_reasons(D, 3 * H) == ["newest backup is 180 min old, limit 90 min"]
    brief = replace(schedule, incr_s=20, slack_s=10)
    assert brief.stale_reasons(D, 31) == ["newest backup is 31 s old, limit 30 s"], "not \"0 min\""


def test_missed_periods_count_the_gaps_beyond_the_slack() -> None:
    schedule = BackupSchedule(7 * D, D, H, 1800)
    assert missed_periods([0, H, 2 * H], 2 * H + 600, schedule) == 0
    assert missed_periods([0, H + 1800], H + 1800, schedule) == 0  # at the limit: not missed
    assert missed_periods([0, 3 * H + 1800], 3 * H + 1800, schedule) == 2
    assert missed_periods([0], 5 * H, schedule) == 4


def test_a_stale_copy_fails_eh_2_2_3_whatever_a_drill_restored(tmp_path: Path) -> None:
    copy = {"site": "sh", "stale": [], "missed_periods": 0, "scheduled": {"ok": 3, "failed": 0, "busy": 0}}
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "freshness.json").write_text(json.dumps({"copies": [
        copy, {**copy, "site": "sz", "stale": ["newest backup is 180 min old, limit 90 min"]}]}))
    [item] = backup_items(tmp_path)["EH-2.2.3"]
    assert item.status == "fail" and "copy sz is stale: newest backup is 180 min old" in item.detail


CI_LOCK_MESSAGE = ("WARN: unable to check pg1: [LockAcquireError] raised from remote-0 tls protocol on 'db-1': "
                   "unable to acquire lock on file '/tmp/pgbackrest/main-backup.lock': Resource temporarily "
                   "unavailable\nERROR: [056]: unable to find primary cluster - cannot proceed")
"""What a backup printed in CI when the other copy's backup held the database host's lock."""


@pytest.mark.parametrize(("exit_code", "stderr", "busy"), [
    (0, "", False),
    (50, "ERROR: [050]: unable to acquire lock on file '/tmp/pgbackrest/main-backup.lock'", True),
    (56, CI_LOCK_MESSAGE, True),
    (56, "ERROR: [056]: unable to find primary cluster - cannot proceed", False),  # no lock: a real failure
    (82, "ERROR: [082]: WAL segment was not archived before the 60000ms timeout", False),
])
def test_a_lock_held_by_the_other_copys_backup_is_busy_not_failed(exit_code: int, stderr: str, busy: bool) -> None:
    assert lock_busy(exit_code, stderr) is busy
    assert _scheduler().lock_busy(CompletedProcess([], exit_code, "", stderr)) is busy

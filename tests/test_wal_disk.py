"""The WAL disk's measure (shared by the probe and the host check), and the drill's alarm judgement."""

from __future__ import annotations

import pytest

from chaos.experiment import parse_experiment
from chaos.faults import FILL_TRIES, FULL_MARGIN, fill_to_full
from chaos.journal import Activity
from chaos.runner import _wal_alarm
from harness.core.ssh import RemoteCommandError
from harness.core.wal_disk import DiskUsage, alarm_free_bytes, parse_statfs
from infra.drill_access import FILLER
from tests.test_experiments import VALID


def test_statfs_lines_become_the_wal_and_data_filesystems() -> None:
    wal, data = parse_statfs("258048 64512 4096\n1000000 900000 4096\n")
    assert wal == DiskUsage(258048 * 4096, 64512 * 4096) and wal.free_pct == 25.0
    assert str(DiskUsage(2**30, 2**28)) == "256 of 1024 MB free (25 %)"
    assert data.total_bytes == 1000000 * 4096
    assert alarm_free_bytes(256 * 2**20) == 512 * 2**20, "twice max_wal_size, the host check's rule"


def test_unexpected_statfs_output_says_what_it_got() -> None:
    with pytest.raises(ValueError, match="unexpected output of `stat -f"):
        parse_statfs("stat: cannot read file system information for '/var/lib/postgresql/wal/pg_wal'")


def _rounds(*failed: tuple[float, set[str]]) -> list[dict[str, object]]:
    details = {"wal": "db-1 100 of 2000 MB free (5 %) (alarm)", "writes": "503", "wal?": "db-1 unreadable: timed out"}
    return [{"t": t, "failed": {name.rstrip("?"): details[name] for name in names}} for t, names in failed]


def test_the_alarm_counts_only_when_it_came_before_the_first_lost_write() -> None:
    experiment = parse_experiment({**VALID, "monitors": [{"name": "writes", "probe": "service-write"},
                                                         {"name": "wal", "probe": "wal-headroom"}]}, "t", "t.yaml")
    fill = Activity(name="fill", kind="action", start=100.0, phases={"injected": 106.0})
    early = _wal_alarm(experiment, [fill], _rounds((99.5, set()), (100.5, {"wal"}), (106.5, {"wal", "writes"})))
    assert early == {"wal_alarm_s": 0.5, "wal_alarm_missed": 0, "wal_alarm_lead_s": 6.0}
    late = _wal_alarm(experiment, [fill], _rounds((100.5, {"writes"}), (101.0, {"wal", "writes"})))
    assert late["wal_alarm_missed"] == 1 and late["wal_alarm_lead_s"] == -0.5
    never = _wal_alarm(experiment, [fill], _rounds((106.5, {"writes"})))
    assert never["wal_alarm_missed"] == 1 and never["wal_alarm_lead_s"] is None
    unwatched = parse_experiment(VALID, "t", "t.yaml")
    assert _wal_alarm(unwatched, [fill], []) == {}


def test_a_member_the_probe_could_not_read_is_no_alarm() -> None:
    """An SSH timeout fails the round, but claiming it as the disk's alarm would overstate the warning."""
    experiment = parse_experiment({**VALID, "monitors": [{"name": "writes", "probe": "service-write"},
                                                         {"name": "wal", "probe": "wal-headroom"}]}, "t", "t.yaml")
    fill = Activity(name="fill", kind="action", start=100.0, phases={"injected": 106.0})
    judged = _wal_alarm(experiment, [fill], _rounds((100.5, {"wal?"}), (106.5, {"writes"}), (107.0, {"wal"})))
    assert judged == {"wal_alarm_s": 7.0, "wal_alarm_missed": 1, "wal_alarm_lead_s": -0.5}


class _FillingHost:
    """A WAL disk on which PostgreSQL makes a 16 MiB segment right after each of the first ``races`` measures."""

    def __init__(self, free: int, races: int, error: str = "fallocate: fallocate failed: No space left on device"):
        self.free, self.races, self.error = free, races, error
        self.commands: list[str] = []

    def measure(self) -> int:
        seen = self.free
        if self.races:
            self.races -= 1
            self.free -= 16 * 2**20
        return seen

    def run(self, host: str, command: str) -> str:
        """As ``Sessions.run``: a command that fails raises, naming its stderr."""
        self.commands.append(command)
        if command.startswith("fallocate"):
            size = int(command.split()[2])
            if size > self.free:
                raise RemoteCommandError(f"{host}: `{command}` exited 1: {self.error}")
            self.free -= size
        return ""


def test_a_segment_made_between_measure_and_fill_is_measured_again() -> None:
    host = _FillingHost(free=300 * 2**20, races=2)
    assert fill_to_full(host, "db-1", host.measure) == 3  # type: ignore[arg-type]
    assert host.free == FULL_MARGIN, "all but the margin filled"
    assert host.commands.count(f"rm -f {FILLER}-2") == 2, host.commands


def test_a_fill_that_fails_for_another_reason_is_raised_at_once() -> None:
    host = _FillingHost(free=300 * 2**20, races=1, error="fallocate: Operation not supported")
    with pytest.raises(RemoteCommandError, match="Operation not supported"):
        fill_to_full(host, "db-1", host.measure)  # type: ignore[arg-type]
    assert len(host.commands) == 1


def test_a_disk_that_never_holds_still_is_not_called_full() -> None:
    host = _FillingHost(free=300 * 2**20, races=FILL_TRIES)
    with pytest.raises(RemoteCommandError, match="it is not full"):
        fill_to_full(host, "db-1", host.measure)  # type: ignore[arg-type]

"""What counts as a whole cluster, and what a failed wait tells the SRE, from Patroni's /cluster answers."""

from __future__ import annotations

import pytest

from harness.core import patroni
from harness.core.outputs import StackOutputs
from harness.core.waiting import WaitTimeoutError
from tests.helpers import outputs_record

OUTPUTS = StackOutputs.parse("t", outputs_record(members=("db-1", "db-2")))
LEADER = {"name": "db-1", "role": "leader", "state": "running", "timeline": 4}


@pytest.mark.parametrize(("standby", "whole"), [
    ({"name": "db-2", "role": "sync_standby", "state": "streaming", "timeline": 4, "lag": 0}, True),
    ({"name": "db-2", "role": "replica", "state": "streaming", "timeline": 4, "lag": 0}, False),
    ({"name": "db-2", "role": "replica", "state": "start failed", "timeline": 3}, False),
    (None, False),
])
def test_whole_needs_a_leader_and_every_standby_streaming_one_synchronous(
        monkeypatch: pytest.MonkeyPatch, standby: dict | None, whole: bool) -> None:
    members = [LEADER] + ([standby] if standby else [])
    monkeypatch.setattr(patroni.Patroni, "members", lambda self, timeout_s=3: members)
    if whole:
        assert patroni.Patroni(OUTPUTS).whole() == ["db-2"]
    else:
        with pytest.raises(patroni.ClusterNotWholeError, match="db-1 leader/running tl 4"):
            patroni.Patroni(OUTPUTS).whole()


def test_a_timed_out_wait_names_every_member_state_and_the_laggards_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    members = [LEADER, {"name": "db-2", "role": "replica", "state": "starting", "timeline": 3}]
    monkeypatch.setattr(patroni.Patroni, "members", lambda self, timeout_s=3: members)
    with pytest.raises(WaitTimeoutError) as error:
        patroni.wait_cluster_whole(OUTPUTS, "a whole cluster", timeout=0.2,
                                   log_tail=lambda host: f"--- log of {host.name} ---")
    assert "db-2 replica/starting tl 3" in str(error.value)
    assert "--- log of db-2 ---" in str(error.value) and "log of db-1" not in str(error.value)


def test_a_member_whose_dcs_contact_is_older_than_a_loop_and_its_retries_is_out_of_touch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Failsafe mode keeps /cluster looking whole while no member reaches etcd: dcs_last_seen tells."""
    import time

    seen = {"db-1": time.time() - 1, "db-2": time.time() - 30}
    monkeypatch.setattr(patroni.Patroni, "config", lambda self, member=None, timeout_s=5: {
        "loop_wait": 1, "retry_timeout": 2})
    monkeypatch.setattr(patroni.Patroni, "_get", lambda self, member, path, timeout_s: (
        200, {"state": "running", "dcs_last_seen": seen[member.name]}))
    assert patroni.Patroni(OUTPUTS).out_of_touch_with_dcs() == ["db-2"], "30 s > 1 + 2 + 2 s"
    seen["db-2"] = time.time() - 4
    assert patroni.Patroni(OUTPUTS).out_of_touch_with_dcs() == []
    monkeypatch.setattr(patroni.Patroni, "_get", lambda self, member, path, timeout_s: (
        200, {"state": "running", "dcs_last_seen": time.time(), "failsafe_mode_is_active": member.name == "db-1"}))
    assert patroni.Patroni(OUTPUTS).out_of_touch_with_dcs() == ["db-1"], "a leader kept by failsafe is not in touch"
    monkeypatch.setattr(patroni.Patroni, "_get", lambda self, member, path, timeout_s: (patroni.UNREACHABLE, None))
    assert patroni.Patroni(OUTPUTS).out_of_touch_with_dcs() == ["db-1", "db-2"], "no answer is no contact"

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

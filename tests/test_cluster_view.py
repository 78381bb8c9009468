"""What counts as a whole cluster, and what a failed wait tells the SRE, from Patroni's /cluster answers."""

from __future__ import annotations

import pytest

import chaos.cluster as cluster
from harness.core.outputs import StackOutputs
from harness.core.waiting import WaitTimeoutError

OUTPUTS = StackOutputs(stack="t", raw={"database": {"members": [{"name": "db-1", "patroni": "x"},
                                                                {"name": "db-2", "patroni": "y"}]},
                                        "hosts": []})
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
    monkeypatch.setattr(cluster, "patroni_cluster", lambda outputs, timeout_s=3: {"members": members})
    if whole:
        assert cluster.whole_cluster(OUTPUTS) == ["db-2"]
    else:
        with pytest.raises(cluster.ClusterNotWholeError, match="db-1 leader/running tl 4"):
            cluster.whole_cluster(OUTPUTS)


def test_a_timed_out_wait_names_every_member_state(monkeypatch: pytest.MonkeyPatch) -> None:
    members = [LEADER, {"name": "db-2", "role": "replica", "state": "starting", "timeline": 3}]
    monkeypatch.setattr(cluster, "patroni_cluster", lambda outputs, timeout_s=3: {"members": members})
    with pytest.raises(WaitTimeoutError) as error:
        cluster.wait_cluster_whole(OUTPUTS, "a whole cluster", timeout=0.2)
    assert "db-2 replica/starting tl 3" in str(error.value)

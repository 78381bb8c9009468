"""Restore drill on the live local stack: each backup copy alone brings the service back with its data."""

from __future__ import annotations

import pytest

from chaos.restore_drill import run_restore_drill

pytestmark = pytest.mark.live


@pytest.mark.parametrize("index", [0, 1], ids=["first-copy", "second-copy"])
def test_restore_from_each_copy_with_the_other_unreachable(outputs, engine, index: int) -> None:
    site = outputs["backup_sites"][index]["name"]
    result = run_restore_drill(engine.client, outputs, site, sentinel_rows=500)
    assert result.other_sites_unreachable, "the other copy answered during the drill"
    assert result.sentinel_verified, "sentinel rows or checksum differ after the restore"
    assert result.last_recovered_seq >= result.sentinel_rows
    assert result.rpo_rows == result.last_committed_seq - result.last_recovered_seq
    assert set(result.phases) == {"loss", "fetch_and_restore", "start", "wal_replay", "service_back", "verify"}
    assert result.rto_seconds >= sum(result.phases.values()) - 1.0
    assert result.database_bytes > 0 and result.raw_copy_seconds > 0

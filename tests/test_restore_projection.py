"""The RTO projection: fixed phases as measured, restore and replay scaled by measured throughput."""

from __future__ import annotations

import pytest

from chaos.restore_drill import WAL_SEGMENT_BYTES, RestoreResult
from chaos.restore_projection import project


def drill(restore_s: float, replay_s: float, database_bytes: int, replayed: int) -> RestoreResult:
    phases = {"loss": 1.0, "fetch_and_restore": restore_s, "start": 1.0, "wal_replay": replay_s,
              "service_back": 0.5, "verify": 0.5}
    return RestoreResult(site="s", repository=1, restored_on="db-1", sentinel_rows=10, sentinel_verified=True,
                         last_committed_seq=10, last_recovered_seq=10, rpo_rows=0, rpo_seconds=0.0, rto_seconds=0.0,
                         phases=phases, database_bytes=database_bytes, replayed_wal_bytes=replayed)


def test_projection_scales_restore_and_replay() -> None:
    # 100 MB/s restore, 50 MB/s replay: 500 GB -> 5000 s, 50 GB -> 1000 s, plus 3 s fixed.
    result = drill(restore_s=10.0, replay_s=2.0, database_bytes=1_000_000_000, replayed=100_000_000)
    projection = project([result], data_gb=500, wal_gb=50)
    assert projection.rto_low_s == projection.rto_high_s == pytest.approx(6003.0)
    assert projection.within_4h and projection.within_72h


def test_range_spans_best_and_worst_drill_and_verdicts_follow_the_worst() -> None:
    fast = drill(10.0, 2.0, 1_000_000_000, 100_000_000)
    slow = drill(100.0, 2.0, 1_000_000_000, 100_000_000)  # 10 MB/s: 500 GB takes 50,000 s
    projection = project([fast, slow], data_gb=500, wal_gb=50)
    assert projection.rto_low_s == pytest.approx(6003.0)
    assert projection.rto_high_s == pytest.approx(51003.0)
    assert not projection.within_4h and projection.within_72h


def test_replay_counts_at_least_one_segment() -> None:
    result = drill(10.0, 1.0, 1_000_000_000, replayed=0)
    assert result.replay_bytes_per_s == WAL_SEGMENT_BYTES


def test_nothing_measured_is_refused() -> None:
    with pytest.raises(ValueError, match="no restore drill measured"):
        project([drill(0.0, 0.0, 0, 0)], 500, 50)


def test_a_restore_faster_than_a_raw_copy_is_capped_at_the_raw_copy_rate() -> None:
    # Compressible filler restored at 100 MB/s while a plain copy of the data ran at 50 MB/s: real records
    # would not restore faster than the disk copies them, so 500 GB take 10,000 s, not 5,000 s.
    fast = drill(10.0, 2.0, 1_000_000_000, 100_000_000)
    fast.raw_copy_seconds = 20.0
    honest = drill(10.0, 2.0, 1_000_000_000, 100_000_000)
    honest.raw_copy_seconds = 5.0
    projection = project([fast, honest], data_gb=500, wal_gb=50)
    assert projection.rto_high_s == pytest.approx(11003.0)
    assert projection.rto_low_s == pytest.approx(6003.0)
    assert projection.capped_at_raw_copy == 1


def test_restore_verdicts_say_when_the_projection_capped_a_drill(tmp_path) -> None:
    import json

    from harness.evidence.verdicts import restore_items

    fast = drill(10.0, 2.0, 1_000_000_000, 100_000_000)
    fast.raw_copy_seconds = 20.0
    other = drill(10.0, 2.0, 1_000_000_000, 100_000_000)
    other.site = "sz"
    drills = [fast, other]
    (tmp_path / "restore").mkdir()
    (tmp_path / "restore" / "restore.json").write_text(json.dumps(
        {"drills": [d.to_json() for d in drills], "projection": project(drills, 500, 50).to_json()}))
    items = restore_items(tmp_path)
    [rto] = items["EH-2.2.3"]
    assert rto.status == "pass"  # two verified copies; 500 GB + 50 GB WAL projected at 11,003 s at worst
    assert "3.06 h" in rto.detail and "capped at the raw-copy rate in 1 drill(s)" in rto.detail

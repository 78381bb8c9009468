"""Reconciling the outbox with the platform's log: what counts as missing, duplicated, out of order, dead-lettered."""

from __future__ import annotations

from harness.core.supervision import OutboxRecord, reconcile


def rec(i: int, patient: int | None = 1, sent: float | None = 10.5, committed: float = 10.0) -> OutboxRecord:
    return OutboxRecord(i, f"r{i}", "consultation", patient, committed, sent, "R")


def held(*entries: tuple[str, int, str]) -> dict:
    return {"records": [{"record_id": r, "seq": s, "event": e} for r, s, e in entries], "resends": 2}


def test_everything_held_once_in_order_is_clean() -> None:
    result = reconcile([rec(1), rec(2), rec(3, patient=2)], held(("r1", 1, "a"), ("r2", 2, "b"), ("r3", 3, "c")), {})
    counts = (result.committed, result.uploaded, result.missing, result.duplicated, result.out_of_order)
    assert counts == (3, 3, 0, 0, 0)
    assert result.resends == 2 and result.lag_p95_s == 0.5


def test_a_record_marked_sent_but_not_held_is_missing_unless_dead_lettered() -> None:
    outbox = [rec(1), rec(2), rec(3)]
    assert reconcile(outbox, held(("r1", 1, "a")), {}).missing == 2
    result = reconcile(outbox, held(("r1", 1, "a")), {"r2": "data.department: not in the code table",
                                                      "r3": "data.department: not in the code table"})
    assert result.missing == 0 and result.dead_lettered == 2
    assert result.reasons == {"data.department: not in the code table": 2}


def test_one_event_under_two_record_ids_is_a_duplicate() -> None:
    result = reconcile([rec(1), rec(2)], held(("r1", 1, "consultation:7"), ("r2", 2, "consultation:7")), {})
    assert result.duplicated == 1


def test_a_patients_records_arriving_against_commit_order_are_out_of_order() -> None:
    outbox = [rec(1, patient=1), rec(2, patient=2), rec(3, patient=1)]
    result = reconcile(outbox, held(("r3", 1, "c"), ("r2", 2, "b"), ("r1", 3, "a")), {})
    assert result.out_of_order == 1, "r1 (patient 1) arrived after r3, committed later"
    assert reconcile([rec(1, None), rec(2, None)], held(("r2", 1, "b"), ("r1", 2, "a")), {}).out_of_order == 0


def test_records_not_yet_sent_are_pending_not_missing() -> None:
    result = reconcile([rec(1), rec(2, sent=None)], held(("r1", 1, "a")), {})
    assert (result.pending, result.missing) == (1, 0)

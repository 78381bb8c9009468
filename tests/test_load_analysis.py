"""Per-request logs into operations, per-uplink percentiles and error windows."""

from __future__ import annotations

from pathlib import Path

from harness.core.request_log import LOG_FIELDS, Request, read_requests
from loadtests.analysis import client_error_windows, error_windows, summarize


def req(ts: float, uplink: str = "a", ok: bool = True, final: bool = True, attempt: int = 1,
        latency: float = 10.0, op: str = "o", client: str = "") -> Request:
    return Request(ts, "GET /x", uplink, attempt, latency, 200 if ok else 0, ok, final, op, "" if ok else "refused",
                   client)


def test_a_users_window_spans_its_run_of_failed_attempts() -> None:
    # u1 fails once on the cut line, u2 twice; each then gets through on the other line. Their first failures
    # come 0.8 s apart (think time): merged, one window of 0.91 s; per user, 0.01 s and 0.11 s
    rows = [req(10.0, "a", ok=False, final=False, client="u1", op="x"),
            req(10.2, "b", attempt=2, client="u1", op="x"),
            req(10.8, "a", ok=False, final=False, client="u2", op="y"),
            req(10.9, "a", ok=False, final=False, attempt=2, client="u2", op="y"),
            req(11.0, "b", attempt=3, client="u2", op="y"),
            req(12.0, "b", client="u1", op="z")]
    windows = client_error_windows(rows)
    assert [(w.start, w.failures, round(w.seconds, 3)) for w in windows] == [(10.0, 1, 0.01), (10.8, 2, 0.11)]
    summary = summarize(rows)
    assert summary["longest_client_error_window_s"] == 0.11
    assert summary["longest_raw_error_window_s"] == 0.91


def test_a_user_who_never_got_through_is_one_window_to_its_last_failure() -> None:
    windows = client_error_windows([req(1.0, ok=False, client="u"), req(3.0, ok=False, latency=500, client="u")])
    assert [(w.start, w.end, w.failures) for w in windows] == [(1.0, 3.5, 2)]


def test_logs_without_a_client_column_leave_the_per_user_window_unmeasured(tmp_path: Path) -> None:
    old_header = ",".join(LOG_FIELDS[:-1])
    (tmp_path / "requests-old.csv").write_text(f"{old_header}\n1.0,GET /x,b,1,7.0,503,0,1,o2,boom\n")
    rows = read_requests(tmp_path)
    assert rows[0].client == ""
    assert summarize(rows)["longest_client_error_window_s"] is None


def test_failures_within_a_second_form_one_window() -> None:
    windows = error_windows([req(10.0, ok=False), req(10.5, ok=False, latency=100), req(12.0, ok=False)])
    assert [(w.start, w.failures) for w in windows] == [(10.0, 2), (12.0, 1)]
    assert abs(windows[0].seconds - 0.6) < 1e-9


def test_summary_counts_operations_not_attempts() -> None:
    rows = [
        req(1.0, "a", ok=False, final=False, op="x"), req(1.2, "b", ok=True, attempt=2, op="x"),
        req(2.0, "a", op="y"), req(3.0, "b", ok=False, op="z"),
    ]
    summary = summarize(rows)
    assert (summary["operations"], summary["successes"], summary["failed_over"], summary["attempts"]) == (3, 2, 1, 4)
    assert summary["per_uplink"]["a"]["failed"] == 1 and summary["per_uplink"]["b"]["p50"] == 10.0
    assert len(summary["user_visible_error_windows"]) == 1


def test_logs_of_several_processes_are_merged_in_time_order(tmp_path: Path) -> None:
    header = ",".join(LOG_FIELDS)
    (tmp_path / "requests-w1.csv").write_text(f"{header}\n2.0,GET /x,a,1,5.0,200,1,1,o1,\n")
    (tmp_path / "requests-w2.csv").write_text(f"{header}\n1.0,GET /x,b,1,7.0,503,0,1,o2,boom\n")
    rows = read_requests(tmp_path)
    assert [(r.uplink, r.ok) for r in rows] == [("b", False), ("a", True)]


def test_a_response_cut_short_is_the_wires_failure_and_retried() -> None:
    from types import SimpleNamespace

    from loadtests.wire import cut_short

    assert cut_short(SimpleNamespace(content=b"", headers={}))  # status 200, then the line went down
    assert cut_short(SimpleNamespace(content=b'{"id": "4', headers={"Content-Length": "40"}))
    assert not cut_short(SimpleNamespace(content=b"<html>oops</html>", headers={"Content-Length": "17"}))
    assert not cut_short(SimpleNamespace(content=b"<html>oops</html>", headers={}))

"""The call's figures from known packet timings: loss, order, one-way delay, RFC 3550 jitter, the gap."""

from __future__ import annotations

import pytest

from harness.core.media_call import Direction, IceServer, MediaCall

MS = 1_000_000


def stream(count: int, interval_ms: int = 20) -> Direction:
    direction = Direction("a->b")
    direction.sent_at = {seq: seq * interval_ms * MS for seq in range(count)}
    return direction


def test_a_steady_stream_has_no_loss_no_jitter_and_its_delay() -> None:
    d = stream(100)
    d.arrivals = [(s, t + 5 * MS) for s, t in d.sent_at.items()]
    summary = d.summary()
    assert summary["received"] == 100 and summary["lost"] == 0 and summary["loss_pct"] == 0
    assert summary["delay_ms_p50"] == summary["delay_ms_p95"] == 5.0
    assert summary["jitter_ms"] == 0 and summary["reordered"] == 0 and summary["duplicated"] == 0
    assert summary["longest_gap_s"] == pytest.approx(0.020)


def test_jitter_follows_rfc3550s_running_estimate() -> None:
    # transit alternates 5 ms and 15 ms: |D| is 10 ms every packet, J converges on 10 ms from 0 by 1/16 steps
    d = stream(3)
    d.arrivals = [(0, 5 * MS), (1, 20 * MS + 15 * MS), (2, 40 * MS + 5 * MS)]
    first = 10 / 16
    assert d.summary()["jitter_ms"] == round(first + (10 - first) / 16, 2)


def test_the_gap_is_separated_from_loss_outside_it() -> None:
    d = stream(500)  # 10 s of audio; 2 s of silence from 4 s; one packet lost elsewhere
    silent = {s for s in d.sent_at if 4_000 <= s * 20 < 6_000}
    d.arrivals = [(s, t + 5 * MS) for s, t in d.sent_at.items() if s not in silent and s != 450]
    summary = d.summary()
    assert summary["longest_gap_s"] == pytest.approx(2.02, abs=0.001)
    assert summary["lost"] == len(silent) + 1
    assert summary["loss_outside_gap_pct"] == round(100 / (500 - len(silent)), 2)


def test_duplicates_and_reordering_are_counted_not_lost() -> None:
    d = stream(4)
    d.arrivals = [(0, 5 * MS), (2, 45 * MS), (1, 46 * MS), (2, 47 * MS), (3, 65 * MS)]
    summary = d.summary()
    assert (summary["lost"], summary["reordered"], summary["duplicated"]) == (0, 1, 1)


def test_nothing_received_is_one_gap_as_long_as_the_call() -> None:
    summary = stream(50).summary()
    assert summary["received"] == 0 and summary["loss_pct"] == 100
    assert summary["longest_gap_s"] == pytest.approx(0.98)


def test_ice_servers_are_read_from_the_services_answer_and_must_match() -> None:
    server = {"urls": ["turn:127.0.0.1:17401?transport=udp", "turn:127.0.0.1:17402?transport=tcp"],
              "node": "turn-1", "username": "1:patient:1", "credential": "x"}
    parsed = IceServer.from_service(server)
    assert (parsed.host, parsed.port, parsed.node) == ("127.0.0.1", 17401, "turn-1")
    with pytest.raises(ValueError, match="no UDP TURN URL"):
        IceServer.from_service({**server, "urls": server["urls"][1:]})
    other = IceServer("turn-2", "127.0.0.1", 1, "u", "c")
    with pytest.raises(ValueError, match="same, non-empty list"):
        MediaCall([parsed], [other])
    with pytest.raises(ValueError, match="start must name"):
        MediaCall([parsed], [parsed], start=1)


def test_the_reports_timeline_counts_arrivals_per_bin_and_shows_the_gap() -> None:
    from harness.core.media_call import CallReport

    d = stream(50)  # 1 s; nothing arrives from 0.4 s to 0.6 s
    d.arrivals = [(s, t + 5 * MS) for s, t in d.sent_at.items() if not 20 <= s < 30]
    timeline = CallReport(["turn-1"], [], [], 1.0, raw=[d], clock_offset_ns=10**18).timeline()
    counts = timeline["received"]["a->b"]
    assert timeline["start"] == 1e9 and sum(counts) == 40
    assert counts[4] == 0 and counts[5] == 0 and counts[3] == 5

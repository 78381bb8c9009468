"""Locust through both uplinks against the live stack: statistics, failover on a cut uplink, distributed mode."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.core.database import connect
from harness.core.request_log import attempts_logged, read_requests
from harness.core.toxiproxy import Toxiproxy, proxy_disabled
from harness.core.waiting import wait_for
from loadtests.runner import LoadPlan, LoadRun, run_load

pytestmark = pytest.mark.live


def test_a_bounded_run_measures_both_uplinks(outputs, tmp_path: Path) -> None:
    run = run_load(outputs.stack, LoadPlan(users=10, spawn_rate=10, run_time_s=12, max_requests=5000), tmp_path)
    s = run.summary
    assert s["operations"] > 100
    assert s["successes"] == s["operations"], s["failed_operations"][:3]
    assert set(s["per_uplink"]) == {u.name for u in outputs.uplinks}
    for uplink in s["per_uplink"].values():
        assert uplink["requests"] > 20
        assert 0 < uplink["p50"] <= uplink["p95"] <= uplink["p99"]
    steady = s["availability"]["steady"]
    assert steady["ratio"] == 1.0 and 0.9 < steady["lower_bound"] < 1.0
    assert steady["lower_bound"] == pytest.approx(0.05 ** (1 / s["operations"]), rel=1e-9)
    assert (tmp_path / "locust_stats.csv").exists() and (tmp_path / "locust.html").exists()


def test_the_request_cap_stops_the_run(outputs, tmp_path: Path) -> None:
    run = run_load(outputs.stack, LoadPlan(users=10, spawn_rate=10, run_time_s=60, max_requests=300), tmp_path)
    assert 300 <= run.summary["attempts"] < 1500
    assert run.summary["seconds"] < 30


def test_clients_fail_over_when_an_uplink_is_cut(outputs, tmp_path: Path) -> None:
    """Uplink cut midway: no failed patient flow, no duplicate booking, and the other uplink carried the load."""
    cut = outputs.uplinks[0].name
    toxiproxy = Toxiproxy(outputs.toxiproxy_api)
    result: list[LoadRun] = []
    runner = threading.Thread(target=lambda: result.append(
        run_load(outputs.stack, LoadPlan(users=12, spawn_rate=12, run_time_s=20, max_requests=20_000), tmp_path)))
    runner.start()
    try:
        wait_for("load to start", lambda: attempts_logged(tmp_path) > 150, timeout=30)
        with proxy_disabled(toxiproxy, cut):
            before = attempts_logged(tmp_path)
            wait_for("load during the cut", lambda: attempts_logged(tmp_path) > before + 300, timeout=30)
    finally:
        runner.join(timeout=120)
    assert result, "the load run did not finish"
    s = result[0].summary
    assert s["successes"] == s["operations"], s["failed_operations"][:3]
    assert s["failed_over"] > 0
    assert s["per_uplink"][cut]["failed"] > 0
    rows = read_requests(tmp_path)
    booked = sum(1 for r in rows if r.final and r.ok and r.endpoint == "POST /v1/bookings" and r.status == 201)
    with connect(outputs) as conn:
        stored = conn.execute("SELECT count(*) FROM bookings b JOIN patients p ON p.id = b.patient_id"
                              " WHERE p.name = %s", (f"{s['run_tag']} 患者",)).fetchone()[0]
    assert booked > 0 and stored == booked


def test_distributed_mode_with_two_local_workers(outputs, tmp_path: Path) -> None:
    run = run_load(outputs.stack, LoadPlan(users=8, spawn_rate=8, run_time_s=10, max_requests=5000, workers=2),
                   tmp_path)
    assert len(list(tmp_path.glob("requests-*.csv"))) == 2
    assert run.summary["operations"] > 50
    assert run.summary["successes"] == run.summary["operations"]
    assert (tmp_path / "locust_stats.csv").read_text().count("\n") > 2

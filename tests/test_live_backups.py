"""Backups that happen by themselves: a full in every copy after `up`; the copy's own timer runs what is due,
expires after it, and a copy cut off across a scheduled run goes stale, fails its check and catches up."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chaos.isolation import partitioned
from checks.backups import copies_freshness
from checks.runner import run_checks
from harness.core.host_access import HostAccess
from harness.core.pgbackrest import PgBackRest, schedule_runs
from harness.core.ssh import Sessions
from harness.core.waiting import wait_for
from infra.backup_sites import SCHEDULE_PATH
from tests.helpers import as_root_in_container

pytestmark = pytest.mark.live
HARNESS = Path(sys.executable).with_name("harness")
COMPRESSED = {"full_s": 1200, "diff_s": 600, "incr_s": 20, "slack_s": 10, "tick_s": 2, "retry_s": 4}
"""Seconds, not days: a scheduled incremental every 20 s, stale after 30 s without a backup."""


def test_up_left_a_full_backup_in_every_copy(outputs) -> None:
    with Sessions(outputs) as ssh:
        pgbackrest = PgBackRest(outputs, ssh)
        assert all(pgbackrest.has_full(site) for site in outputs.backup_sites)
    status = subprocess.run([str(HARNESS), "backup", "--status"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    assert all(f"{site.name} (repo {site.repository}): fresh" in status.stdout for site in outputs.backup_sites)


@contextmanager
def compressed_schedule(containers, outputs, host: str) -> Iterator[None]:
    """The copy's timer on a schedule of minutes; the configured schedule put back afterwards, whatever happens.
    Through the engine as root: changing a host's schedule is not a drill command."""
    original = as_root_in_container(containers, outputs, host, f"cat {SCHEDULE_PATH}")
    wanted = {**json.loads(original), **COMPRESSED}
    as_root_in_container(containers, outputs, host, f"cp -p {SCHEDULE_PATH} {SCHEDULE_PATH}.drill && "
                         f"echo {shlex.quote(json.dumps(wanted))} > {SCHEDULE_PATH} && "
                         "supervisorctl restart backup-scheduler")
    try:
        yield
    finally:
        as_root_in_container(containers, outputs, host, f"mv {SCHEDULE_PATH}.drill {SCHEDULE_PATH} && "
                             "supervisorctl restart backup-scheduler")


def _new_run(ssh: Sessions, site, after: float, status: str) -> dict | None:
    """A run of the timer that ended after ``after`` with ``status`` (a run may start before a cut or a heal
    and end on the other side of it: what it ended with is what the cut or the heal did to it)."""
    return next((r for r in schedule_runs(ssh, site) if r["at"] + r["seconds"] > after and r["status"] == status),
                None)


def test_a_copy_cut_off_across_scheduled_runs_goes_stale_and_catches_up(outputs, containers, tmp_path: Path) -> None:
    site = outputs.backup_sites[-1]
    started = time.time()  # the restarted timer's first run counts: it finds an incremental due at once
    with Sessions(outputs) as ssh, compressed_schedule(containers, outputs, site.host):
        ran = wait_for("a scheduled incremental", lambda: _new_run(ssh, site, started, "ok"), timeout=240)
        assert ran["type"] in ("incr", "diff", "full") and ran["expire"] == "ok", ran
        # both ways, refused: the timer's run fails at once instead of waiting out pgBackRest's io-timeout
        with HostAccess(outputs, containers) as access, \
                partitioned(access, outputs.host(site.host), outputs.hosts(role="database"), "REJECT"):
            cut = time.time()
            # stale comes before the failed run ends (pgBackRest retries a refused host for 2 x io-timeout):
            # the check runs meanwhile
            wait_for("the copy stale under its schedule",
                     lambda: next(c for c in copies_freshness(outputs.stack) if c.site == site.name).stale,
                     timeout=180)
            checked = run_checks(outputs.stack, tmp_path / "stale", (site.host,))
            stale = [r for r in checked.failed if r["check"] == "backup::test_copy_is_fresh_under_its_schedule"]
            assert stale and f"copy {site.name} must be fresh" in stale[0]["message"], checked.failed
            assert "limit 30 s" in stale[0]["message"], stale[0]["message"]
            failed = wait_for("a scheduled run that fails while the copy is cut off",
                              lambda: _new_run(ssh, site, cut, "failed"), timeout=300)
            assert failed["error"], failed
        healed = time.time()
        caught_up = wait_for("the missed run made up once the copy is back",
                             lambda: _new_run(ssh, site, healed, "ok"), timeout=300)
        assert caught_up["expire"] == "ok", caught_up
        copy = next(c for c in copies_freshness(outputs.stack, tmp_path / "fresh") if c.site == site.name)
        assert not copy.stale and copy.scheduled["failed"] >= 1 and copy.missed_periods >= 1, copy
    again = run_checks(outputs.stack, tmp_path / "after", (site.host,))
    assert again.ok, again.failed

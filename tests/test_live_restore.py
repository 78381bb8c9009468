"""Restore drill on the live local stack: each backup copy alone brings the service back with its data."""

from __future__ import annotations

import pytest

from chaos.restore_drill import run_restore_drill
from harness.core.http_json import ready

pytestmark = pytest.mark.live


@pytest.mark.parametrize("index", [0, 1], ids=["first-copy", "second-copy"])
def test_restore_from_each_copy_with_the_other_unreachable(outputs, containers, index: int) -> None:
    site = outputs.backup_sites[index].name
    result = run_restore_drill(containers, outputs, site, sentinel_rows=500)
    assert result.other_sites_unreachable, "the other copy answered during the drill"
    assert result.sentinel_verified, "sentinel rows or checksum differ after the restore"
    assert "intact" in result.clinical_sentinel, result.clinical_sentinel
    assert result.last_recovered_seq >= result.sentinel_rows
    assert result.rpo_rows == result.last_committed_seq - result.last_recovered_seq
    assert set(result.phases) == {"loss", "fetch_and_restore", "start", "wal_replay", "service_back", "verify"}
    assert result.rto_seconds >= sum(result.phases.values()) - 1.0
    assert result.database_bytes > 0 and result.raw_copy_seconds > 0


def test_corrupted_repository_is_detected_and_nothing_is_wiped(outputs, containers) -> None:
    """A flipped file in the chosen copy stops the drill before the loss, naming the file."""
    from chaos.restore_drill import CorruptRepositoryError
    from harness.core.pgbackrest import verify_site as verify
    from harness.core.ssh import connect, run

    site = outputs.backup_sites[0]
    client = connect(outputs, site.host)
    find = ("sudo sh -c 'find /var/lib/pgbackrest/repo/backup/main -path \"*pg_data/base/*\" -type f "
            "-size +8k | sort | tail -1'")
    target = run(client, site.host, find).stdout.strip()
    assert target, "no backup file to corrupt"
    relative = target.split("/backup/main/", 1)[1]
    run(client, site.host, f"sudo cp -p {target} /root/drill-original")
    try:
        run(client, site.host, f"sudo sh -c \"printf XXXXXXXXXXXXXXXX | dd of={target} bs=1 seek=64 "
            "conv=notrunc status=none\"")
        found = verify(outputs, site)
        assert not found.ok and any(relative in p for p in found.problems), found
        with pytest.raises(CorruptRepositoryError) as refused:
            run_restore_drill(containers, outputs, site.name, sentinel_rows=10)
        assert relative in str(refused.value) and "wiped nothing" in str(refused.value)
    finally:
        run(client, site.host, f"sudo cp -p /root/drill-original {target}")
        run(client, site.host, "sudo rm -f /root/drill-original")
        client.close()
    assert verify(outputs, site).ok, "the corruption was not undone"
    assert ready(outputs.uplinks[0].url, ca=outputs.ca_cert_path), "the service must still be up: nothing was wiped"


def test_unreachable_copy_is_refused_fast_and_nothing_is_wiped(outputs, containers) -> None:
    """With one copy cut off from the database hosts, a drill from it stops at once and names the copy that answers."""
    from chaos.isolation import unreachable
    from chaos.restore_drill import RepositoryUnreachableError

    cut, other = outputs.backup_sites[0], outputs.backup_sites[1]
    members = outputs.hosts(role="database")
    with unreachable(containers, outputs, cut.host, members), pytest.raises(RepositoryUnreachableError) as err:
        run_restore_drill(containers, outputs, cut.name, sentinel_rows=10)
    message = str(err.value)
    assert f"at {cut.name} does not answer" in message and "wiped nothing" in message
    assert f"copies that answer: {other.name}" in message
    assert ready(outputs.uplinks[0].url, ca=outputs.ca_cert_path), "the service must still be up: nothing was wiped"


def test_sigterm_after_the_wipe_restores_before_exiting_and_a_second_one_does_not_cut_it_short(
        outputs, containers) -> None:
    """The loss is the drill's fault and a restore its only undo: an interrupted drill restores, then exits."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from chaos.cleanup import cleanup
    from harness.core.http_json import ready_on_every_uplink
    from harness.core.patroni import wait_cluster_whole
    from harness.core.waiting import wait_for

    harness = Path(sys.executable).with_name("harness")
    process = subprocess.Popen([str(harness), "restore", "--from", outputs.backup_sites[0].name],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 240
        for line in process.stdout:  # bounded: the drill prints its loss within minutes, or the deadline ends it
            seen.append(line)
            if "loss declared" in line or time.monotonic() > deadline:
                break
        assert any("loss declared" in line for line in seen), "".join(seen)
        process.send_signal(signal.SIGTERM)
        seen.append(process.stdout.readline())  # the first signal's message: the undo has begun
        process.send_signal(signal.SIGTERM)  # a second one, during the undo
        out, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    text = "".join(seen) + out
    assert process.returncode == 128 + signal.SIGTERM, text
    assert "restoring" in text and "SIGTERM ignored: still undoing" in text, text
    assert not cleanup(containers, outputs), "the interrupted drill left a fault (rules, a pause) for --cleanup"
    wait_cluster_whole(outputs, "the cluster whole after the interrupted drill", timeout=600)
    wait_for("the service ready on every uplink", lambda: ready_on_every_uplink(outputs), timeout=120)

"""Restore drill on the live local stack: each backup copy alone brings the service back with its data."""

from __future__ import annotations

import pytest

from chaos.restore_drill import run_restore_drill
from harness.core.http_json import ready
from tests.helpers import as_root_in_container

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

    def as_root(command: str) -> str:  # corrupting a copy is no drill command: through the engine
        return as_root_in_container(containers, outputs, site.host, command)

    site = outputs.backup_sites[0]
    target = as_root("find /var/lib/pgbackrest/repo/backup/main -path '*pg_data/base/*' -type f "
                     "-size +8k | sort | tail -1").strip()
    assert target, "no backup file to corrupt"
    relative = target.split("/backup/main/", 1)[1]
    as_root(f"cp -p {target} /root/drill-original")
    try:
        as_root(f"printf XXXXXXXXXXXXXXXX | dd of={target} bs=1 seek=64 conv=notrunc status=none")
        found = verify(outputs, site)
        assert not found.ok and any(relative in p for p in found.problems), found
        with pytest.raises(CorruptRepositoryError) as refused:
            run_restore_drill(containers, outputs, site.name, sentinel_rows=10)
        assert relative in str(refused.value) and "wiped nothing" in str(refused.value)
    finally:
        as_root(f"cp -p /root/drill-original {target} && rm -f /root/drill-original")
    assert verify(outputs, site).ok, "the corruption was not undone"
    assert ready(outputs.uplinks[0].url, ca=outputs.ca_cert_path), "the service must still be up: nothing was wiped"


def test_unreachable_copy_is_refused_fast_and_nothing_is_wiped(outputs, containers) -> None:
    """With one copy cut off from the database hosts, a drill from it stops at once and names the copy that answers."""
    from chaos.isolation import unreachable
    from chaos.restore_drill import RepositoryUnreachableError
    from harness.core.host_access import HostAccess

    cut, other = outputs.backup_sites[0], outputs.backup_sites[1]
    members = outputs.hosts(role="database")
    with HostAccess(outputs, containers) as access, unreachable(access, cut.host, members), \
            pytest.raises(RepositoryUnreachableError) as err:
        run_restore_drill(containers, outputs, cut.name, sentinel_rows=10)
    message = str(err.value)
    assert f"at {cut.name} does not answer" in message and "wiped nothing" in message
    assert f"copies that answer: {other.name}" in message
    assert ready(outputs.uplinks[0].url, ca=outputs.ca_cert_path), "the service must still be up: nothing was wiped"


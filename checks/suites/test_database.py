"""Database hosts: TLS-only access, streaming standby, private data, audit logging."""

from __future__ import annotations

import shlex

import pytest

from checks.suites.facts import assert_owner_only, http_answers, path_facts
from harness.core.postgres_shell import AS_POSTGRES, psql
from harness.core.wal_disk import (
    DEVICES_COMMAND,
    MAX_WAL_COMMAND,
    STATFS_COMMAND,
    WAL_HEADROOM_FACTOR,
    alarm_free_bytes,
    on_own_disk,
    parse_statfs,
)
from infra.database import DATA_DIR
from infra.host_probes import WATCHDOG_OF_PATRONI

ROLE = "database"


def sql(host, query: str) -> str:
    return host.check_output(psql(query)).strip()


@pytest.mark.requirements("EH-1.2.1", "TM-5.2")
@pytest.mark.impact("critical")
def test_no_trust_or_plain_host_rule_for_remote_addresses(host, target) -> None:
    rules = sql(host, "select line_number, type, auth_method from pg_hba_file_rules where type <> 'local'")
    bad = []
    for line in rules.splitlines():
        number, kind, method = line.split("|")
        if method == "trust" or (kind == "host" and method != "reject") or (kind == "hostnossl" and method != "reject"):
            bad.append(f"line {number}: {kind} ... {method}")
    assert not bad, f"{target.name}: remote connections must need TLS and a password: pg_hba {'; '.join(bad)}"


@pytest.mark.requirements("EH-1.2.1", "TM-5.2")
@pytest.mark.impact("critical")
def test_tls_is_on(host, target) -> None:
    assert sql(host, "show ssl") == "on", f"{target.name}: PostgreSQL must serve TLS: ssl is off"
    minimum = sql(host, "show ssl_min_protocol_version")
    assert minimum in ("TLSv1.2", "TLSv1.3"), f"{target.name}: TLS below 1.2 must be refused: min {minimum}"


@pytest.mark.requirements("EH-1.2.1", "TM-5.2")
@pytest.mark.impact("high")
def test_service_sessions_use_tls(host, target) -> None:
    if sql(host, "select pg_is_in_recovery()") == "t":
        pytest.skip("the service connects to the primary only")
    plain = sql(host, "select count(*) from pg_stat_activity a join pg_stat_ssl s using (pid) "
                      "where a.application_name like 'ihh-service@%' and not s.ssl")
    assert plain == "0", f"{target.name}: every service session must use TLS: {plain} without"


@pytest.mark.requirements("EH-2.2.1")
@pytest.mark.impact("critical")
def test_standby_streams_or_primary_has_a_sync_standby(host, target) -> None:
    if sql(host, "select pg_is_in_recovery()") == "t":
        status = sql(host, "select status from pg_stat_wal_receiver")
        assert status == "streaming", f"{target.name}: the hot standby must stream from the primary: {status!r}"
    else:
        states = sql(host, "select sync_state from pg_stat_replication").split()
        assert states, f"{target.name}: the primary must have a streaming standby: none connected"
        assert {"sync", "quorum"} & set(states), f"{target.name}: a standby must be synchronous: {states}"


@pytest.mark.requirements("TM-5.2", "EH-1.1.2")
@pytest.mark.impact("high")
def test_data_directory_is_private(host, target) -> None:
    data = path_facts(host, DATA_DIR)
    assert data is not None and data.is_directory and data.user == "postgres" and data.mode == 0o700, (
        f"{target.name}: {DATA_DIR} must be 0700 postgres: {data or 'missing'}"
    )


@pytest.mark.requirements("TM-5.2")
@pytest.mark.impact("high")
def test_keys_readable_only_by_owner(host, target) -> None:
    for path in ("/etc/ihh/tls/host.key", "/etc/patroni/patroni.yml"):
        assert_owner_only(host, target, path, "postgres", "keys and passwords must be readable by their owner only")


@pytest.mark.requirements("GD-4.3", "TM-5.4")
@pytest.mark.impact("medium")
def test_connections_are_audited(host, target) -> None:
    for setting in ("log_connections", "log_disconnections"):
        value = sql(host, f"show {setting}")
        assert value == "on", f"{target.name}: audit logging must be on: {setting} is {value}"


@pytest.mark.requirements("TM-5.2")
@pytest.mark.impact("high")
def test_data_directory_is_encrypted_at_rest(host, target) -> None:
    """PGDATA on a dm-crypt (LUKS) device; a provider-encrypted cloud disk is invisible here: waive it, citing it."""
    if path_facts(host, "/.dockerenv") is not None:
        pytest.skip(f"{target.name} is a container of the local replica: its volumes are the machine's own disk, "
                    "not encrypted; encryption at rest is checked on real hosts")
    source = host.check_output(f"findmnt -n -o SOURCE -T {DATA_DIR}").strip()
    layers = host.check_output(f"lsblk -s -n -o TYPE {source.split('[')[0]}").split()
    assert "crypt" in layers, (
        f"{target.name}: patient data must be encrypted at rest: {DATA_DIR} is on {source} ({' > '.join(layers)}), "
        "not on dm-crypt; if the cloud disk is encrypted by the provider, waive this check citing the disk")


CA = "/etc/ihh/tls/ca.crt"
PATRONI_ASKS = [{"name": "plain", "url": "http://127.0.0.1:8008/health"},
                {"name": "read", "url": "https://127.0.0.1:8008/health", "ca": CA},
                {"name": "change", "url": "https://127.0.0.1:8008/config", "method": "PATCH", "ca": CA}]


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_patroni_rest_api_is_tls_only_and_refuses_unauthenticated_changes(host, target) -> None:
    answers = http_answers(host, PATRONI_ASKS)
    assert answers["read"] in (200, 503), f"{target.name}: Patroni's REST API must answer over TLS: {answers}"
    assert not isinstance(answers["plain"], int), (
        f"{target.name}: Patroni's REST API must refuse plain HTTP: it answered {answers['plain']}")
    assert answers["change"] == 401, (
        f"{target.name}: Patroni must refuse an unauthenticated PATCH /config (it can set archive_command): "
        f"answered {answers['change']}")


WAL_READY_LIMIT = 16
"""Segments waiting for the archiver (256 MB): a backlog that grows is how a WAL disk fills up."""


@pytest.mark.requirements("EH-2.2.1", "EH-1.1.2")
@pytest.mark.impact("high")
def test_wal_volume_has_headroom_and_no_archive_backlog(host, target) -> None:
    """PostgreSQL stops (PANIC) when it cannot write WAL: caught here, before that, on every member.

    On a disk of its own a full pg_wal stops PostgreSQL and nothing else (the wal-disk-full drill), and a
    dead standby's slot may hold only max_slot_wal_keep_size of it.
    """
    assert on_own_disk(host.check_output(DEVICES_COMMAND)), (
        f"{target.name}: pg_wal must live on a disk of its own, not on the data volume ({DATA_DIR}/pg_wal)")
    wal, _ = parse_statfs(host.check_output(STATFS_COMMAND))
    max_wal = int(host.check_output(MAX_WAL_COMMAND))
    assert wal.free_bytes >= alarm_free_bytes(max_wal), (
        f"{target.name}: the WAL's filesystem must keep {WAL_HEADROOM_FACTOR} x max_wal_size free "
        f"({alarm_free_bytes(max_wal) / 2**30:.1f} GiB): {wal}")
    ready = len(host.check_output(f"find {DATA_DIR}/pg_wal/archive_status -name '*.ready'").split())
    assert ready <= WAL_READY_LIMIT, (
        f"{target.name}: at most {WAL_READY_LIMIT} WAL segments may wait for the archiver: {ready} wait "
        "(is a backup copy unreachable?)")
    keep = sql(host, "show max_slot_wal_keep_size")
    assert keep != "-1", f"{target.name}: max_slot_wal_keep_size is unlimited: a dead standby's slot fills the disk"




@pytest.mark.requirements("EH-2.2.1")
@pytest.mark.impact("critical")
def test_primary_is_fenced_by_its_watchdog(host, target) -> None:
    """An isolated primary stops before its leader key expires only while Patroni holds an armed watchdog.

    Without it, a primary whose etcd calls hang (dropped packets) takes writes beside the new one.
    """
    mode, device = host.check_output(f"python3 -c {shlex.quote(WATCHDOG_OF_PATRONI)}").split()
    assert mode == "required", (
        f"{target.name}: Patroni's watchdog must be 'required', so a member that cannot arm it never leads: "
        f"mode {mode!r}")
    assert_owner_only(host, target, device, "postgres", "only Patroni may arm or disarm the watchdog")
    if sql(host, "select pg_is_in_recovery()") == "t":
        return
    patroni = host.check_output("pgrep -o -u postgres -f bin/patroni").strip()
    # as Patroni's user: reading another user's descriptors needs CAP_SYS_PTRACE, which containers drop
    held = host.run(f"{AS_POSTGRES} find /proc/{patroni}/fd -lname {device}").stdout.split()
    assert held, f"{target.name}: the primary's Patroni (pid {patroni}) must hold its watchdog {device} open"

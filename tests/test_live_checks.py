"""Host checks on the live local stack: a deliberate misconfiguration fails the right check. That every suite
passes on every host is shown by the quick evidence run's check step (test_live_evidence)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from checks.runner import run_checks
from tests.helpers import as_root_in_container

pytestmark = pytest.mark.live


@contextmanager
def misconfigured(containers, outputs, host: str, break_it: str, undo: str) -> Iterator[None]:
    """Apply ``break_it`` on ``host`` as root (through the engine); ``undo`` always runs afterwards."""
    as_root_in_container(containers, outputs, host, break_it)
    try:
        yield
    finally:
        as_root_in_container(containers, outputs, host, undo)


def record(run_, host: str, check: str) -> dict:
    matches = [r for r in run_.records if r["host"] == host and r["check"] == check]
    assert len(matches) == 1, (host, check, [r["check"] for r in run_.records if r["host"] == host])
    return matches[0]


SSHD_PASSWORDS = ("echo 'PasswordAuthentication yes' > /etc/ssh/sshd_config.d/00-drill.conf",
                  "rm -f /etc/ssh/sshd_config.d/00-drill.conf")
PG_TRUST = ("cp -p /var/lib/postgresql/data/pgdata/pg_hba.conf /root/pg_hba.drill && "
            "echo 'host all all 10.99.0.0/16 trust' >> /var/lib/postgresql/data/pgdata/pg_hba.conf",
            "cp -p /root/pg_hba.drill /var/lib/postgresql/data/pgdata/pg_hba.conf && rm -f /root/pg_hba.drill")
LOGS_ASTRAY = ("sed -i 's/target=\"log-1[.]/target=\"nowhere./' /etc/rsyslog.d/50-ihh-forward.conf && "
               "supervisorctl restart rsyslog",
               "sed -i 's/target=\"nowhere[.]/target=\"log-1./' /etc/rsyslog.d/50-ihh-forward.conf && "
               "supervisorctl restart rsyslog")
PSQL = "runuser -u postgres -- psql -XAtq -c"
WAL_UNBOUNDED = (f"{PSQL} \"alter system set max_wal_size = '1000TB'\" && {PSQL} 'select pg_reload_conf()'",
                 f"{PSQL} 'alter system reset max_wal_size' && {PSQL} 'select pg_reload_conf()'")
"""A max_wal_size no disk can hold: the WAL headroom check must see it (a full WAL disk stops PostgreSQL)."""
WATCHDOG_OPTIONAL = ("sed -i 's/^  mode: required$/  mode: automatic/' /etc/patroni/patroni.yml",
                     "sed -i 's/^  mode: automatic$/  mode: required/' /etc/patroni/patroni.yml")
"""Patroni may then lead without a watchdog: nothing stops a primary whose etcd calls hang (DROP partition)."""
COTURN_NO_AUTH = ("sed -i 's/^use-auth-secret$/no-auth/' /etc/ihh/turnserver.conf",
                  "sed -i 's/^no-auth$/use-auth-secret/' /etc/ihh/turnserver.conf")


MISCONFIGURATIONS = [
    ("app-1", SSHD_PASSWORDS, "common::test_sshd_is_key_only", "sshd must be key-only"),
    ("db-1", PG_TRUST, "database::test_no_trust_or_plain_host_rule_for_remote_addresses",
     "remote connections must need TLS and a password"),
    ("turn-1", COTURN_NO_AUTH, "av::test_coturn_requires_authentication", "coturn must require authentication"),
    ("db-1", WAL_UNBOUNDED, "database::test_wal_volume_has_headroom_and_no_archive_backlog",
     "the WAL's filesystem must keep 2 x max_wal_size free"),
    ("db-1", WATCHDOG_OPTIONAL, "database::test_primary_is_fenced_by_its_watchdog",
     "Patroni's watchdog must be 'required'"),
    ("app-2", LOGS_ASTRAY, "common::test_logs_reach_the_log_host_over_verified_tls",
     "logs must reach the log host over verified TLS"),
    ("log-1", ("supervisorctl stop log-retention", "supervisorctl start log-retention"),
     "common::test_role_services_run", "role services must run"),
    ("dcs-2", ("chmod g+rx /var/lib/etcd/data", "chmod g-rx /var/lib/etcd/data"), "dcs::test_etcd_data_is_private",
     "/var/lib/etcd/data must be 0700 etcd"),
    ("db-2", ("chmod o+r /etc/ihh/tls/host.key", "chmod o-r /etc/ihh/tls/host.key"),
     "database::test_keys_readable_only_by_owner", "keys and passwords must be readable by their owner only"),
]
"""Host, change (break, undo), the check it must fail, and the rule that check names."""


def test_each_misconfiguration_fails_its_own_check_and_no_other(outputs, containers, tmp_path: Path) -> None:
    """Nine misconfigurations at once on seven hosts, checked in one run (the hosts in parallel): each host fails
    exactly the checks broken on it, each naming its rule; undone, every check of those hosts passes again."""
    hosts = tuple(dict.fromkeys(host for host, *_ in MISCONFIGURATIONS))
    with ExitStack() as broken_now:
        for host, change, *_ in MISCONFIGURATIONS:
            broken_now.enter_context(misconfigured(containers, outputs, host, *change))
        broken = run_checks(outputs.stack, tmp_path / "broken", hosts=hosts)
    for host in hosts:
        expected = {check: rule for name, _, check, rule in MISCONFIGURATIONS if name == host}
        failed = {r["check"]: r["message"] for r in broken.failed if r["host"] == host}
        assert set(failed) == set(expected), (host, failed)
        for check, rule in expected.items():
            assert failed[check].startswith(f"{host}: {rule}"), failed[check]
    assert {r["host"] for r in broken.failed} == set(hosts)
    repaired = run_checks(outputs.stack, tmp_path / "repaired", hosts=hosts)
    assert repaired.ok, [f"{r['host']} {r['check']}: {r['message']}" for r in repaired.failed]


def test_a_waiver_turns_the_failure_into_waived(outputs, containers, tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("- check: common::test_sshd_is_key_only\n  host: app-1\n"
                       "  justification: vendor appliance needs passwords until 2027, RISK-7\n  expires: 2099-01-01\n")
    with misconfigured(containers, outputs, "app-1", *SSHD_PASSWORDS):
        waived = run_checks(outputs.stack, tmp_path / "waived", hosts=("app-1",), waivers=waivers)
    entry = record(waived, "app-1", "common::test_sshd_is_key_only")
    assert entry["status"] == "waived" and "RISK-7" in entry["message"]
    assert waived.ok

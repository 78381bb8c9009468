"""Application hosts: the service verifies the database's certificate and keeps its password private."""

from __future__ import annotations

import json

import pytest

from checks.suites.facts import assert_owner_only
from checks.suites.reach import database_tier_targets, reach

ROLE = "app"


@pytest.mark.requirements("EH-1.2.1", "TM-5.2")
@pytest.mark.impact("critical")
def test_service_verifies_the_database_certificate(host, target) -> None:
    config = json.loads(host.file("/etc/ihh/app/service.json").content_string)
    ca = host.file(config["db"]["sslrootcert"])
    assert ca.exists and "BEGIN CERTIFICATE" in ca.content_string, (
        f"{target.name}: the service needs the stack CA to verify the database: {ca.path} missing"
    )
    code = host.file("/opt/ihh/app/ihh_service/store.py").content_string
    assert 'sslmode="verify-full"' in code, f"{target.name}: the service must connect with sslmode=verify-full"


@pytest.mark.requirements("TM-5.2")
@pytest.mark.impact("high")
def test_database_password_readable_only_by_the_service(host, target) -> None:
    assert_owner_only(host, target, "/etc/ihh/secrets/db-app-password", "ihh-app",
                      "the database password must be readable by the service only")


@pytest.mark.requirements("GD-1.2.4", "TM-5.2")
@pytest.mark.impact("high")
def test_turn_secret_readable_only_by_the_service(host, target) -> None:
    assert_owner_only(host, target, "/etc/ihh/secrets/turn-shared-secret", "ihh-app",
                      "the TURN shared secret mints media credentials: only the service may read it")


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_reaches_postgres_and_nothing_else_of_the_database_tier(host, target, outputs) -> None:
    postgres, others = database_tier_targets(outputs)
    answers = reach(host, postgres + others)
    closed = [t for t in (f"{n}:{p}" for n, p in postgres) if answers[t] != "open"]
    assert not closed, f"{target.name}: the service must reach PostgreSQL: {', '.join(closed)} {answers}"
    open_ = [t for t in (f"{n}:{p}" for n, p in others) if answers[t] == "open"]
    assert not open_, (f"{target.name}: the app tier may reach PostgreSQL's port only, yet reaches "
                       f"{', '.join(open_)} (Patroni, pgBackRest, SSH or etcd)")

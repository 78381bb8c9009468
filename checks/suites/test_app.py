"""Application hosts: the service verifies the database's certificate and keeps its password private."""

from __future__ import annotations

import json

import pytest

from checks.suites.facts import assert_owner_only, file_text, http_answers, optional_text
from checks.suites.reach import database_tier_targets, reach

ROLE = "app"


@pytest.mark.requirements("EH-1.2.1", "TM-5.2")
@pytest.mark.impact("critical")
def test_service_verifies_the_database_certificate(host, target) -> None:
    config = json.loads(file_text(host, "/etc/ihh/app/service.json"))
    ca = optional_text(host, config["db"]["sslrootcert"])
    assert ca is not None and "BEGIN CERTIFICATE" in ca, (
        f"{target.name}: the service needs the stack CA to verify the database: {config['db']['sslrootcert']} "
        f"{'holds no certificate' if ca is not None else 'missing'}"
    )
    code = file_text(host, "/opt/ihh/app/ihh_service/store.py")
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


@pytest.mark.requirements("GD-1.2.1", "TM-5.2")
@pytest.mark.impact("high")
def test_session_key_readable_only_by_the_service(host, target) -> None:
    assert_owner_only(host, target, "/etc/ihh/secrets/service-session-key", "ihh-app",
                      "the session key signs every patient's and doctor's session: only the service may read it")


@pytest.mark.requirements("GD-1.2.1", "TM-5.4")
@pytest.mark.impact("critical")
def test_service_takes_who_acts_only_from_a_signed_session(host, target) -> None:
    """No TURN credential and no record for a caller without a session, or one who names itself in a header."""
    config = json.loads(file_text(host, "/etc/ihh/app/service.json"))
    url = f"http://127.0.0.1:{config['listen_port']}"
    write = {"Idempotency-Key": "host-check-session-probe"}
    answers = http_answers(host, [
        {"name": "A/V credentials without a session", "url": f"{url}/v1/av-sessions", "method": "POST",
         "headers": write},
        {"name": "A/V credentials for an X-Actor claim", "url": f"{url}/v1/av-sessions", "method": "POST",
         "headers": {**write, "X-Actor": "patient:1"}},
        {"name": "a booking read with a forged token", "url": f"{url}/v1/bookings/1",
         "headers": {"Authorization": "Bearer patient:1.4102444800.Zm9yZ2Vk"}},
    ])
    expected = {"A/V credentials without a session": 401, "A/V credentials for an X-Actor claim": 400,
                "a booking read with a forged token": 401}
    assert answers == expected, f"{target.name}: the service must refuse callers without a signed session: {answers}"


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

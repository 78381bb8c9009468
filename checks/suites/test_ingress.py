"""Ingress hosts: patients reach the service over HTTPS only (TLS 1.2 or newer); plain HTTP only redirects."""

from __future__ import annotations

import json
import shlex

import pytest

from checks.suites.reach import database_tier_targets, reach
from infra.host_probes import PLAIN_HTTP, TLS_HANDSHAKE

ROLE = "ingress"


def _python(host, program: str) -> dict:
    return json.loads(host.check_output(f"python3 -c {shlex.quote(program)}"))


@pytest.mark.requirements("EH-1.2.1", "TM-5.2", "GD-1.2.1")
@pytest.mark.impact("critical")
def test_serves_https_with_tls_1_2_or_newer(host, target) -> None:
    answer = _python(host, TLS_HANDSHAKE)
    assert "version" in answer, (
        f"{target.name}: patient traffic must be encrypted in transit: no TLS 1.2+ handshake on port 443 "
        f"({answer.get('error')})")


@pytest.mark.requirements("EH-1.2.1", "TM-5.2")
@pytest.mark.impact("high")
def test_plain_http_only_redirects_to_https(host, target) -> None:
    answer = _python(host, PLAIN_HTTP)
    redirected = answer.get("status") in (301, 302, 307, 308) and answer.get("location", "").startswith("https://")
    assert redirected or ("error" in answer and "Refused" in answer["error"]), (
        f"{target.name}: plain HTTP must only redirect to HTTPS: GET /v1/health answered "
        f"{answer.get('status', answer.get('error'))}")


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_reaches_nothing_of_the_database_tier(host, target, outputs) -> None:
    postgres, others = database_tier_targets(outputs)
    answers = reach(host, postgres + others)
    open_ = [t for t, answer in answers.items() if answer == "open"]
    assert not open_, f"{target.name}: an ingress host must reach nothing of the database tier: {', '.join(open_)}"

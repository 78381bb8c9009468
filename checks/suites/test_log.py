"""The log host: keeps every host's logs at least 180 days, on storage that outlives the host, behind TLS."""

from __future__ import annotations

import json

import pytest

from checks.suites.facts import file_text, http_answers
from infra.log_host import LOG_CA, LOG_PORT, RETENTION_FILE, SERVER_CONF
from infra.thresholds import MIN_LOG_RETENTION_DAYS

ROLE = "log"


@pytest.mark.requirements("GD-1.2.1", "GD-4.3")
@pytest.mark.impact("high")
def test_logs_are_kept_at_least_six_months(host, target) -> None:
    config = json.loads(file_text(host, RETENTION_FILE))
    assert config["keep_days"] >= MIN_LOG_RETENTION_DAYS, (
        f"{target.name}: logs must be kept at least {MIN_LOG_RETENTION_DAYS} days: the retention job keeps "
        f"{config['keep_days']}"
    )
    assert host.run(f"mountpoint -q {config['directory']}").rc == 0, (
        f"{target.name}: logs must be kept at least {MIN_LOG_RETENTION_DAYS} days: {config['directory']} is not "
        "storage of its own, so a replaced host would lose them"
    )


@pytest.mark.requirements("GD-1.2.1", "EH-1.2.1")
@pytest.mark.impact("high")
def test_receiver_speaks_tls_and_admits_only_certified_senders(host, target) -> None:
    server = file_text(host, SERVER_CONF)
    assert 'StreamDriver.Mode="1"' in server and 'AuthMode="x509/certvalid"' in server, (
        f"{target.name}: the log receiver must speak TLS and admit only senders the stack's CA certified: "
        f"{SERVER_CONF} does not require it"
    )
    answers = http_answers(host, [{"name": "handshake", "tls_only": ["127.0.0.1", LOG_PORT], "ca": LOG_CA,
                                   "check_hostname": False}])
    assert answers["handshake"] in ("TLSv1.2", "TLSv1.3"), (
        f"{target.name}: the log receiver must speak TLS 1.2 or later with the stack's certificate: {answers}"
    )

"""Consensus hosts: etcd data private; clients and peers over TLS with the stack's certificates only."""

from __future__ import annotations

import pytest

from checks.suites.facts import http_answers, path_facts

ROLE = "dcs"


@pytest.mark.requirements("EH-2.2.1")
@pytest.mark.impact("high")
def test_etcd_data_is_private(host, target) -> None:
    data = path_facts(host, "/var/lib/etcd/data")
    assert data is not None and data.is_directory and data.mode == 0o700 and data.user == "etcd", (
        f"{target.name}: /var/lib/etcd/data must be 0700 etcd: {data or 'missing'}"
    )


TLS = "/etc/ihh/tls"
ETCD_ASKS = [{"name": "plain", "url": "http://127.0.0.1:2379/version"},
             {"name": "anonymous", "url": "https://127.0.0.1:2379/version", "ca": f"{TLS}/ca.crt"},
             {"name": "certified", "url": "https://127.0.0.1:2379/version", "ca": f"{TLS}/ca.crt",
              "cert": [f"{TLS}/host.crt", f"{TLS}/host.key"]},
             {"name": "peer", "tls_only": ["127.0.0.1", 2380], "ca": f"{TLS}/ca.crt", "check_hostname": False}]


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2", "EH-2.2.1")
@pytest.mark.impact("critical")
def test_etcd_serves_tls_only_to_certificate_holders(host, target) -> None:
    answers = http_answers(host, ETCD_ASKS)
    assert answers["certified"] == 200, (
        f"{target.name}: etcd must answer a client with the stack's certificate: {answers}")
    assert not isinstance(answers["plain"], int), f"{target.name}: etcd must refuse plain HTTP: {answers}"
    assert not isinstance(answers["anonymous"], int), (
        f"{target.name}: etcd must refuse a TLS client without a certificate of the stack's CA: {answers}")
    assert str(answers["peer"]).startswith("TLS"), f"{target.name}: etcd's peer port must speak TLS: {answers}"

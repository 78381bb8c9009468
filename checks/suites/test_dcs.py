"""Consensus hosts: etcd data private; clients and peers over TLS with the stack's certificates only."""

from __future__ import annotations

import json
import shlex

import pytest

ROLE = "dcs"


@pytest.mark.requirements("EH-2.2.1")
@pytest.mark.impact("high")
def test_etcd_data_is_private(host, target) -> None:
    data = host.file("/var/lib/etcd/data")
    assert data.is_directory and data.mode == 0o700 and data.user == "etcd", (
        f"{target.name}: /var/lib/etcd/data must be 0700 etcd: {oct(data.mode)} {data.user}"
    )


ETCD_PROBE = """
import json, socket, ssl, urllib.error, urllib.request
ca = "/etc/ihh/tls/ca.crt"
out = {}
anonymous = ssl.create_default_context(cafile=ca)
certified = ssl.create_default_context(cafile=ca)
certified.load_cert_chain("/etc/ihh/tls/host.crt", "/etc/ihh/tls/host.key")
for name, url, context in (("plain", "http://127.0.0.1:2379/version", None),
                           ("anonymous", "https://127.0.0.1:2379/version", anonymous),
                           ("certified", "https://127.0.0.1:2379/version", certified)):
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            out[name] = response.status
    except urllib.error.HTTPError as e:
        out[name] = e.code
    except Exception as e:
        out[name] = type(e).__name__
peer = ssl.create_default_context(cafile=ca)
peer.check_hostname = False
try:
    with socket.create_connection(("127.0.0.1", 2380), 5) as raw, peer.wrap_socket(raw) as tls:
        out["peer"] = tls.version()
except Exception as e:
    out["peer"] = type(e).__name__
print(json.dumps(out))
"""


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2", "EH-2.2.1")
@pytest.mark.impact("critical")
def test_etcd_serves_tls_only_to_certificate_holders(host, target) -> None:
    answers = json.loads(host.check_output(f"python3 -c {shlex.quote(ETCD_PROBE)}"))
    assert answers["certified"] == 200, (
        f"{target.name}: etcd must answer a client with the stack's certificate: {answers}")
    assert not isinstance(answers["plain"], int), f"{target.name}: etcd must refuse plain HTTP: {answers}"
    assert not isinstance(answers["anonymous"], int), (
        f"{target.name}: etcd must refuse a TLS client without a certificate of the stack's CA: {answers}")
    assert str(answers["peer"]).startswith("TLS"), f"{target.name}: etcd's peer port must speak TLS: {answers}"

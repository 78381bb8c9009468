"""Consensus hosts: etcd data private, the member healthy."""

from __future__ import annotations

import pytest

ROLE = "dcs"


@pytest.mark.requirements("EH-2.2.1")
@pytest.mark.impact("high")
def test_etcd_data_is_private(host, target) -> None:
    data = host.file("/var/lib/etcd/data")
    assert data.is_directory and data.mode == 0o700 and data.user == "etcd", (
        f"{target.name}: /var/lib/etcd/data must be 0700 etcd: {oct(data.mode)} {data.user}"
    )

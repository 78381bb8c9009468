"""An ``existing`` stack's inventory: every bad field refused by name before anything runs, and the same program
(with the same policy rules) run over the declared servers, creating nothing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.provisioning.mockrun import run_program
from infra.config import ConfigError, parse_config
from infra.policy.rules import check, subjects_from

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEPeydWm+8gJxFoHLujYU+w1A/D0tagUiUo82GfCElBz"
ROLES = {"log-1": "log", "backup-sh": "backup", "backup-sz": "backup", "db-1": "database", "db-2": "database",
         "dcs-1": "dcs", "dcs-2": "dcs", "dcs-3": "dcs", "app-1": "app", "app-2": "app",
         "ingress-telecom": "ingress", "ingress-unicom": "ingress", "turn-1": "av", "turn-2": "av"}
ENDPOINTS = {"database": {"postgres": "10.0.1.5:5432", "patroni": "10.0.1.5:8008"},
             "av": {"turn-udp": "10.0.2.5:3478", "turn-tcp": "10.0.2.5:3478"}}


def _site(name: str) -> str:
    return {"backup-sh": "sh", "backup-sz": "sz"}.get(name, "bj")


def values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    (tmp_path / "ops_key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n"
                                      "-----END OPENSSH PRIVATE KEY-----")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnot-a-real-ca\n-----END CERTIFICATE-----\n")
    for env in ("DB", "PATRONI", "TURN", "SESSION"):
        monkeypatch.setenv(f"INV_{env}", f"value-of-{env.lower()}")
    return {
        "platform": "existing",
        "primarySite": {"name": "bj", "region": "cn-beijing", "power": "dual-feed"},
        "uplinks": [{"name": "telecom", "provider": "China Telecom", "bandwidthMbps": 50},
                    {"name": "unicom", "provider": "China Unicom", "bandwidthMbps": 50}],
        "backupSites": [{"name": "sh", "region": "cn-shanghai", "power": "dual-feed"},
                        {"name": "sz", "region": "cn-shenzhen", "power": "dual-feed"}],
        "existing": {
            "sshUser": "ops", "sshKey": {"file": str(tmp_path / "ops_key")}, "caCert": str(tmp_path / "ca.crt"),
            "secrets": {"dbAppPassword": {"env": "INV_DB"}, "patroniRestPassword": {"env": "INV_PATRONI"},
                        "turnSharedSecret": {"env": "INV_TURN"},
                        "serviceSessionKey": {"file": str(tmp_path / "ca.crt")}},
            "hosts": [{"name": name, "roles": [role], "site": _site(name), "ssh": f"10.0.0.{i}:22", "hostKey": KEY,
                       "endpoints": ENDPOINTS.get(role, {})} for i, (name, role) in enumerate(ROLES.items(), start=1)],
            "uplinks": {"telecom": "https://203.0.113.10", "unicom": "https://198.51.100.10"},
        },
    }


def _changed(base: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(base)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    elif isinstance(target, list) and path[-1] == len(target):
        target.append(value)
    else:
        target[path[-1]] = value
    return changed


@pytest.mark.parametrize(("path", "value", "message"), [
    (["existing", "hosts", 3, "roles"], ["web"], "existing.hosts[3].roles[0]: unknown role 'web'"),
    (["existing", "hosts", 3, "hostKey"], None, "existing.hosts[3].hostKey: is required"),
    (["existing", "hosts", 3, "hostKey"], "ssh-rsa AAAA", "existing.hosts[3].hostKey: must be the host's ed25519"),
    (["existing", "hosts", 3, "ssh"], "db-1", "existing.hosts[3].ssh: must be host:port"),
    (["existing", "hosts", 3, "site"], "gz", "existing.hosts[3].site: unknown site 'gz'"),
    (["existing", "secrets", "dbAppPassword"], {"value": "hunter2"}, "existing.secrets.dbAppPassword.value: unknown"),
    (["existing", "uplinks", "unicom"], "http://198.51.100.10", "existing.uplinks.unicom: must be the https:// URL"),
    (["existing", "uplinks", "unicom"], None, "existing.uplinks.unicom: is required"),
    (["existing"], None, "existing: is required on platform existing"),
    (["platform"], "docker", "existing: declares existing servers; it needs platform existing"),
])
def test_a_bad_inventory_field_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config("site", _changed(values(tmp_path, monkeypatch), path, value))
    assert str(raised.value).startswith(f"config ihh:{message}"), str(raised.value)


@pytest.mark.parametrize(("path", "value", "message"), [
    (["existing", "hosts", 4], None, "existing.hosts: lacks db-2: the topology of this config has"),
    (["existing", "hosts", 4, "roles"], ["app"], "existing.hosts[4].roles: db-2 is the topology's database host"),
    (["existing", "hosts", 4, "endpoints"], {"postgres": "10.0.1.6:5432"},
     "existing.hosts[4].endpoints.patroni: is required: drills reach db-2's patroni there"),
    (["existing", "hosts", 4, "name"], "db-9", "existing.hosts: lacks db-2"),
])
def test_the_inventory_must_hold_every_host_of_the_topology(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(Exception, match="existing") as raised:
        run_program("site", _changed(values(tmp_path, monkeypatch), path, value))
    assert message in str(raised.value), str(raised.value)


def test_the_program_declares_the_servers_and_the_rules_judge_them(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_program("site", values(tmp_path, monkeypatch))
    declared = [r for r in run.graph.resources if r.type == "ihh:existing:Host"]
    assert sorted(r.name for r in declared) == sorted(ROLES)
    assert not [r for r in run.graph.resources if r.type.startswith(("docker:", "alicloud:"))], "nothing created"
    assert check(subjects_from(run.graph.resources)) == []
    hosts = {h["name"]: h for h in run.outputs["hosts"]}
    assert hosts["db-1"]["ssh"] == "10.0.0.4:22" and hosts["db-1"]["container"] is None
    assert run.outputs["database"]["members"][0] == {"name": "db-1", "postgres": "10.0.1.5:5432",
                                                     "patroni": "10.0.1.5:8008"}
    assert run.outputs["secrets"]["db_app_password"] == "value-of-db" and run.outputs["ssh_user"] == "ops"
    assert run.outputs["toxiproxy_api"] is None and run.outputs["uplinks"][0]["url"] == "https://203.0.113.10"
    single = _changed(values(tmp_path, monkeypatch), ["primarySite", "power"], "single-feed")
    violations = check(subjects_from(run_program("site", single).graph.resources))
    assert {v.requirement for v in violations} == {"GD-1.2.3b"}, "the rules judge the declared servers too"


def test_a_secret_source_that_is_not_there_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = values(tmp_path, monkeypatch)
    monkeypatch.delenv("INV_TURN")
    with pytest.raises(Exception, match=r"existing.secrets.turnSharedSecret.env: environment variable INV_TURN "
                                        r"is not set"):
        run_program("site", base)


def test_a_declared_wan_simulator_carries_the_uplink_drills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = values(tmp_path, monkeypatch)
    lab = {"name": "wan-lab", "roles": ["wan"], "site": "bj", "ssh": "10.0.9.9:22", "hostKey": KEY,
           "endpoints": {"toxiproxy-api": "10.0.9.9:8474"}}
    run = run_program("site", _changed(base, ["existing", "hosts", len(ROLES)], lab))
    assert run.outputs["toxiproxy_api"] == "http://10.0.9.9:8474"
    assert [u["toxiproxy_proxy"] for u in run.outputs["uplinks"]] == ["telecom", "unicom"]
    assert "wan-lab" in {h["name"] for h in run.outputs["hosts"]}
    with pytest.raises(Exception, match=r"existing.hosts\[14\].endpoints.toxiproxy-api: is required"):
        run_program("site", _changed(base, ["existing", "hosts", len(ROLES)], {**lab, "endpoints": {}}))

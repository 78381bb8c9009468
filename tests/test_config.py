"""Stack config is validated in one place: every error names the key and the rule."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, parse_config
from tests.helpers import stack_values


def test_committed_stacks_parse() -> None:
    local = parse_config("local", stack_values("local"))
    prod = parse_config("prod", stack_values("prod"))
    assert local.platform == "docker" and prod.platform == "alicloud"
    assert [u.provider for u in local.uplinks] == ["China Telecom", "China Unicom"]
    assert local.local.bind_address == "127.0.0.1"
    assert prod.prod.zones == ("cn-beijing-h", "cn-beijing-i")


@pytest.mark.parametrize(
    ("overrides", "key", "rule"),
    [
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"appServers": "two"}, "appServers", "whole number"),
        ({"appServers": True}, "appServers", "whole number"),
        ({"platform": "aws"}, "platform", "must be one of docker, alicloud"),
        ({"uplinks": [{"name": "telecom", "provider": "China Telecom", "bandwidthMbps": 5}]},
         "uplinks[0].bandwidthMbps", "GD-1.2.5 requires at least 10 Mbps"),
        ({"uplinks": [{"name": "telecom", "provider": "China Telecom"}]}, "uplinks[0].bandwidthMbps", "is required"),
        ({"uplinks": [{"name": "line-a", "provider": "x", "bandwidthMbps": 20, "speed": 1}]}, "uplinks[0].speed",
         "unknown key"),
        ({"backupRetentionDays": 365}, "backupRetentionDays", "EH-1.2.3 requires key records kept five years"),
        ({"logRetentionDays": 90}, "logRetentionDays", "MLPS level 3 keeps logs at least 180 days"),
        ({"logRetentionDays": "half a year"}, "logRetentionDays", "whole number"),
        ({"backupSites": [{"name": "sh", "region": "mars-1"}]}, "backupSites[0].region", "unknown region"),
        ({"primarySite": {"name": "bj", "region": "cn-beijing", "power": "wishful"}}, "primarySite.power",
         "must be one of"),
        ({"local": {"bindAddress": "0.0.0.0"}}, "local.bindAddress", "loopback"),
        ({"local": {"portBase": 80}}, "local.portBase", "between 1024 and 64000"),
        ({"local": {"mediaSubnet": "10.213.77.0/33"}}, "local.mediaSubnet", "IPv4 network such as"),
        ({"local": {"mediaSubnet": "8.8.8.0/24"}}, "local.mediaSubnet", "private IPv4 network of /16 to /26"),
        ({"local": {"mediaSubnet": "10.213.77.0/29"}}, "local.mediaSubnet", "private IPv4 network of /16 to /26"),
        ({"database": {"dcsMembers": 2}}, "database.dcsMembers", "odd"),
        ({"database": {"failover": {"ttl": 6, "loopWait": 2, "retryTimeout": 5}}}, "database.failover",
         "loopWait + 2 x retryTimeout <= ttl"),
        ({"database": {"failover": {"ttl": 10, "loopWait": 1, "retryTimeout": 4}}}, "database.failover",
         "the watchdog fires ttl - 1 s after the leader's last good loop"),
        ({"uplinks": [{"name": "line-a", "provider": "x", "bandwidthMbps": 20},
                      {"name": "line-a", "provider": "y", "bandwidthMbps": 20}]}, "uplinks", "used twice"),
        ({"uplinks": "{not json"}, "uplinks", "not valid JSON"),
        ({"incidentsPerYear": {"meteor-strike": 1}}, "incidentsPerYear.meteor-strike", "is not a failure mode"),
        ({"incidentsPerYear": {"uplink-outage": -1}}, "incidentsPerYear.uplink-outage", "from 0 to 365"),
        ({"incidentsPerYear": {"uplink-outage": "often"}}, "incidentsPerYear.uplink-outage", "from 0 to 365"),
        ({"supervision": {"endpoint": "https://jg.example.cn"}}, "supervision.endpoint", "its own simulator"),
        ({"supervision": {"lagTargetS": 0}}, "supervision.lagTargetS", "positive number"),
        ({"supervision": {"tokenFile": "token"}}, "supervision.tokenFile", "an absolute path"),
        ({"supervision": {"url": "x"}}, "supervision.url", "unknown"),
    ],
)
def test_bad_value_names_key_and_rule(overrides: dict, key: str, rule: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("local", stack_values("local", **overrides))
    assert error.value.key == key, str(error.value)
    assert rule in str(error.value), str(error.value)
    assert str(error.value).startswith(f"config ihh:{key}: ")


def test_incident_rates_override_the_documented_defaults() -> None:
    config = parse_config("local", stack_values("local", incidentsPerYear={"uplink-outage": 12}))
    assert config.incidents_per_year["uplink-outage"] == 12.0
    assert config.incidents_per_year["database-primary-failure"] == 2.0


def test_a_server_stack_names_its_supervision_platform_by_https_url() -> None:
    config = parse_config("prod", stack_values("prod", supervision={"endpoint": "https://jg.gd.example.cn/api",
                                                                    "lagTargetS": 30}))
    assert config.supervision.endpoint == "https://jg.gd.example.cn/api" and config.supervision.lag_target_s == 30
    assert parse_config("prod", stack_values("prod")).supervision.endpoint is None, "none given: no upload"
    with pytest.raises(ConfigError, match=r"ihh:supervision.endpoint: must be an https:// URL"):
        parse_config("prod", stack_values("prod", supervision={"endpoint": "http://jg.gd.example.cn"}))


def test_service_image_is_for_the_local_platform_only() -> None:
    with pytest.raises(ConfigError, match=r"ihh:serviceImage: .*prod.imageId"):
        parse_config("prod", stack_values("prod", serviceImage="hospital/api:1.2"))


def test_missing_required_key() -> None:
    values = stack_values("local")
    del values["uplinks"]
    with pytest.raises(ConfigError, match=r"ihh:uplinks: is required"):
        parse_config("local", values)


def test_json_strings_from_pulumi_are_decoded() -> None:
    values = stack_values("local", appServers="3", uplinks='[{"name": "line-a", "provider": "x", "bandwidthMbps": 20}]')
    config = parse_config("local", values)
    assert config.app_servers == 3 and config.uplinks[0].name == "line-a"

"""Every policy rule: the committed stacks pass, each violation fails with its requirement ID."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from infra.policy.rules import Violation, check, rule_requirements
from tests.helpers import relabel, subjects


def ids(violations: list[Violation]) -> set[str]:
    return {v.requirement for v in violations}


@pytest.fixture(scope="module")
def local_subjects():
    return subjects("local")


@pytest.mark.parametrize("stack", ["local", "prod"])
def test_committed_stacks_are_compliant(stack: str) -> None:
    violations = check(subjects(stack))
    assert violations == [], "\n".join(map(str, violations))


def test_one_uplink_fails_gd_1_2_5() -> None:
    violations = check(subjects("local", uplinks=[{"name": "telecom", "provider": "China Telecom",
                                                   "bandwidthMbps": 20}]))
    assert ids(violations) == {"GD-1.2.5"}
    assert "1 uplink(s) declared; at least 2 required" in str(violations[0])


def test_two_uplinks_from_one_provider_fail_gd_1_2_5() -> None:
    same = [{"name": "line-a", "provider": "China Telecom", "bandwidthMbps": 20},
            {"name": "line-b", "provider": "china telecom", "bandwidthMbps": 20}]
    violations = check(subjects("local", uplinks=same))
    assert ids(violations) == {"GD-1.2.5"}
    assert "distinct providers" in violations[0].rule
    assert "::ingress-line-" in violations[0].urn


def test_uplink_under_ten_mbps_fails_gd_1_2_5(local_subjects) -> None:
    violations = check(relabel(local_subjects, "ingress-telecom", uplink__bandwidth_mbps="5"))
    assert ids(violations) == {"GD-1.2.5"}
    assert "5 Mbps is below the 10 Mbps" in violations[0].rule
    assert violations[0].urn.endswith("::ingress-telecom")


def test_backup_in_primary_region_fails_eh_2_2_3() -> None:
    sites = [{"name": "bj-backup", "region": "cn-beijing"}, {"name": "sz-backup", "region": "cn-shenzhen"}]
    violations = check(subjects("local", backupSites=sites))
    assert ids(violations) == {"EH-2.2.3"}
    assert "primary site's region" in violations[0].rule
    assert violations[0].urn.endswith("::backup-bj-backup")


def test_backup_copies_in_one_region_fail_eh_2_2_3() -> None:
    sites = [{"name": "sh-a", "region": "cn-shanghai"}, {"name": "sh-b", "region": "cn-shanghai"}]
    violations = check(subjects("local", backupSites=sites))
    assert ids(violations) == {"EH-2.2.3"}
    assert "distinct regions" in violations[0].rule


def test_one_backup_copy_fails_eh_2_2_3() -> None:
    violations = check(subjects("local", backupSites=[{"name": "sh-a", "region": "cn-shanghai"}]))
    assert ids(violations) == {"EH-2.2.3"}


def test_site_outside_mainland_fails_gd_1_2_3c() -> None:
    sites = [{"name": "hk-backup", "region": "cn-hongkong"}, {"name": "sz-backup", "region": "cn-shenzhen"}]
    violations = check(subjects("local", backupSites=sites))
    assert ids(violations) == {"GD-1.2.3c"}
    assert "'cn-hongkong' is not in mainland China" in violations[0].rule
    assert violations[0].urn.endswith("::backup-hk-backup")


def test_one_av_node_fails_gd_1_2_4() -> None:
    violations = check(subjects("local", avNodes=1))
    assert ids(violations) == {"GD-1.2.4"}


def test_database_on_an_app_host_fails_gd_1_2_3a(local_subjects) -> None:
    violations = check(relabel(local_subjects, "db-1", roles="database,app"))
    assert ids(violations) == {"GD-1.2.3a"}
    assert violations[0].urn.endswith("::db-1")
    assert "must be separate" in violations[0].rule


def test_one_app_server_fails_gd_1_2_3a() -> None:
    assert ids(check(subjects("local", appServers=1))) == {"GD-1.2.3a"}


def test_retention_under_five_years_fails_eh_1_2_3(local_subjects) -> None:
    violations = check(relabel(local_subjects, "backup-sh-backup", backup__retention_days="365"))
    assert ids(violations) == {"EH-1.2.3"}
    assert "365 days is below five years" in violations[0].rule


def test_log_retention_under_six_months_fails_gd_1_2_1(local_subjects) -> None:
    violations = check(relabel(local_subjects, "log-1", logs__retention_days="90"))
    assert ids(violations) == {"GD-1.2.1"}
    assert violations[0].urn.endswith("::log-1") and "90 days is below six months" in violations[0].rule


def test_no_log_host_fails_gd_1_2_1(local_subjects) -> None:
    violations = check([s for s in local_subjects if not s.urn.endswith("::log-1")])
    assert ids(violations) == {"GD-1.2.1"} and "no log host declared" in violations[0].rule


def test_unencrypted_backup_fails_tm_5_2(local_subjects) -> None:
    violations = check(relabel(local_subjects, "backup-sz-backup", backup__cipher="none"))
    assert ids(violations) == {"TM-5.2"}


def test_single_power_feed_fails_gd_1_2_3b() -> None:
    site = {"name": "bj-main", "region": "cn-beijing", "power": "single-feed"}
    violations = check(subjects("local", primarySite=site))
    assert ids(violations) == {"GD-1.2.3b"}


def test_no_standby_fails_eh_2_2_1(local_subjects) -> None:
    without_standby = [s for s in local_subjects if s.labels.get("ihh.host") != "db-2"]
    assert ids(check(without_standby)) == {"EH-2.2.1"}


def test_rules_cover_their_catalogue_ids() -> None:
    from harness.evidence.catalogue import load_catalogue

    catalogue = {r.id: r for r in load_catalogue()}
    for requirement in rule_requirements():
        assert requirement in catalogue, requirement
        assert "policy" in catalogue[requirement].methods, requirement


def test_policy_pack_reports_through_pulumi_policy(local_subjects) -> None:
    """The pack's policy turns every violation into a report with the resource's URN."""
    from pulumi_policy import EnforcementLevel

    from infra.policy.pulumi_policies import ENFORCEMENT, POLICIES

    assert ENFORCEMENT == EnforcementLevel.MANDATORY
    resources = [SimpleNamespace(urn=s.urn, resource_type=s.type, name=s.name,
                                 props={"labels": [{"label": k, "value": v} for k, v in s.labels.items()]})
                 for s in relabel(local_subjects, "db-1", roles="database,app")]
    reported: list[tuple[str, str]] = []
    POLICIES[0].validate(SimpleNamespace(resources=resources), lambda msg, urn=None: reported.append((msg, urn)))
    assert len(reported) == 1
    assert reported[0][0].startswith("GD-1.2.3a: ") and reported[0][1].endswith("::db-1")


@pytest.fixture(scope="module")
def prod_subjects():
    return subjects("prod")


def _changed(subjects_: list, name_part: str, **props: object) -> list:
    """The same subjects with the settings of the first resource whose name contains ``name_part`` changed."""
    import dataclasses

    target = next((s for s in subjects_ if s.name == name_part), None) or next(
        s for s in subjects_ if name_part in s.name)
    return [dataclasses.replace(s, props={**s.props, **props}) if s is target else s for s in subjects_]


def test_an_accept_all_security_group_fails_gd_1_2_1(prod_subjects) -> None:
    violations = check(_changed(prod_subjects, "sg-cn-beijing-database", innerAccessPolicy="Accept"))
    assert ids(violations) == {"GD-1.2.1"} and "inner_access_policy='Accept'" in violations[0].rule


@pytest.mark.parametrize(("changes", "words"), [
    ({"portRange": "-1/-1"}, "name the ports"),
    ({"portRange": "1/65535"}, "name the ports"),
    ({"cidrIp": "0.0.0.0/0", "sourceSecurityGroupId": None}, "to the internet"),
])
def test_a_rule_open_too_wide_fails_gd_1_2_1(prod_subjects, changes: dict, words: str) -> None:
    violations = check(_changed(prod_subjects, "database-from-app-5432", **changes))
    assert ids(violations) == {"GD-1.2.1"} and words in violations[0].rule


def test_prod_admits_the_app_tier_to_postgres_only(prod_subjects) -> None:
    into_database = [s for s in prod_subjects if s.type.endswith("SecurityGroupRule") and "database-from-app" in s.name]
    assert [s.props["portRange"] for s in into_database] == ["5432/5432"]
    into_dcs = {s.name for s in prod_subjects if s.type.endswith("SecurityGroupRule") and "-dcs-from-" in s.name}
    assert not any("from-app" in n or "from-ingress" in n for n in into_dcs), into_dcs


def test_an_unencrypted_cloud_disk_fails_tm_5_2(prod_subjects) -> None:
    violations = check(_changed(prod_subjects, "db-1", systemDiskEncrypted=False))
    assert ids(violations) == {"TM-5.2"} and "not encrypted" in violations[0].rule

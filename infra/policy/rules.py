"""The ``policy`` requirements of the catalogue, written once as checks over a resource graph.

The rules read compliance labels (Docker labels or cloud tags with the ``ihh.``
prefix), so the same rules judge the local stack, the prod stack and whatever a
user's own program declares; security groups and their rules are judged by their
settings. Each violation names the requirement, the resource and the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.av_nodes import RELAY_PORTS
from infra.regions import is_mainland_china
from infra.thresholds import (
    MIN_AV_NODES,
    MIN_BACKUP_COPIES,
    MIN_LOG_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    MIN_SERVERS,
    MIN_UPLINK_MBPS,
    MIN_UPLINK_PROVIDERS,
)

P = "ihh."
POWERED = ("dual-feed", "generator", "dual-feed+generator")


@dataclass(frozen=True)
class Subject:
    """A resource as the rules see it: where it is and what its labels say."""

    urn: str
    type: str
    name: str
    labels: Mapping[str, str]
    props: Mapping[str, Any] = field(default_factory=dict)
    """The resource's inputs, for rules about settings rather than labels (a security group's policy)."""

    def roles(self) -> set[str]:
        return {r for r in self.labels.get(f"{P}roles", "").split(",") if r}


@dataclass(frozen=True)
class Violation:
    """One broken rule: requirement ID, resource, and what is wrong."""

    requirement: str
    urn: str
    rule: str

    def __str__(self) -> str:
        return f"{self.requirement} {self.urn}: {self.rule}"


def labels_of(props: Mapping[str, Any]) -> dict[str, str]:
    """Labels from Docker's ``labels`` list or a cloud resource's ``tags`` map."""
    raw = props.get("labels")
    if isinstance(raw, list):
        return {str(i["label"]): str(i["value"]) for i in raw if isinstance(i, Mapping) and "label" in i}
    tags = props.get("tags")
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    return {}


@dataclass(frozen=True)
class Rule:
    """One rule: the requirement IDs it judges and the check that yields its violations."""

    name: str
    requirements: tuple[str, ...]
    check: Callable[[list[Subject]], Iterable[Violation]]


RULES: list[Rule] = []
"""Every rule, in declaration order; a rule joins by its ``@rule`` decorator, beside its code."""


def rule(*requirements: str) -> Callable[[Callable[[list[Subject]], Iterable[Violation]]],
                                         Callable[[list[Subject]], Iterable[Violation]]]:
    """Register a check as the rule for ``requirements``; the violations it yields must name one of them."""
    def register(fn: Callable[[list[Subject]], Iterable[Violation]]) -> Callable[[list[Subject]], Iterable[Violation]]:
        RULES.append(Rule(fn.__name__, requirements, fn))
        return fn
    return register


def _hosts(subjects: list[Subject]) -> list[Subject]:
    return [s for s in subjects if s.labels.get(f"{P}roles")]


def _with_role(subjects: list[Subject], role: str) -> list[Subject]:
    return [s for s in _hosts(subjects) if role in s.roles()]


def _stack_urn(subjects: list[Subject]) -> str:
    return subjects[0].urn.split("::")[0] + "::stack" if subjects else "stack"


@rule("GD-1.2.3a")
def servers_and_separate_database(subjects: list[Subject]) -> Iterable[Violation]:
    """GD-1.2.3a: >= 2 application servers; the database on hosts of its own."""
    apps = _with_role(subjects, "app")
    if len(apps) < MIN_SERVERS:
        yield Violation("GD-1.2.3a", _stack_urn(subjects),
                        f"{len(apps)} application server(s) declared; at least {MIN_SERVERS} required")
    databases = _with_role(subjects, "database")
    if not databases:
        yield Violation("GD-1.2.3a", _stack_urn(subjects), "no database server declared")
    for host in databases:
        if "app" in host.roles():
            yield Violation("GD-1.2.3a", host.urn, "database server also runs the application; it must be separate")


@rule("EH-2.2.1")
def hot_standby(subjects: list[Subject]) -> Iterable[Violation]:
    """EH-2.2.1: a primary and at least one hot standby."""
    databases = _with_role(subjects, "database")
    if len(databases) < 2:
        yield Violation("EH-2.2.1", _stack_urn(subjects),
                        f"{len(databases)} database server(s); a primary and a hot standby (2) are required")


@rule("GD-1.2.3b")
def site_power(subjects: list[Subject]) -> Iterable[Violation]:
    """GD-1.2.3b: every site declares dual power feeds or emergency generation."""
    for host in _hosts(subjects):
        power = host.labels.get(f"{P}site-power", "")
        if power not in POWERED:
            yield Violation("GD-1.2.3b", host.urn,
                            f"site {host.labels.get(f'{P}site', '?')} declares power {power or 'nothing'!r}; "
                            f"one of {', '.join(POWERED)} required")


@rule("GD-1.2.3c")
def mainland_only(subjects: list[Subject]) -> Iterable[Violation]:
    """GD-1.2.3c: every host, backup sites included, in a mainland-China region."""
    for host in _hosts(subjects):
        region = host.labels.get(f"{P}region", "")
        if not is_mainland_china(region):
            yield Violation("GD-1.2.3c", host.urn, f"region {region or 'undeclared'!r} is not in mainland China")


@rule("GD-1.2.4")
def av_nodes(subjects: list[Subject]) -> Iterable[Violation]:
    """GD-1.2.4: at least two audio/video nodes."""
    nodes = _with_role(subjects, "av")
    if len(nodes) < MIN_AV_NODES:
        yield Violation("GD-1.2.4", _stack_urn(subjects),
                        f"{len(nodes)} audio/video node(s) declared; at least {MIN_AV_NODES} required")


@rule("GD-1.2.5")
def uplinks(subjects: list[Subject]) -> Iterable[Violation]:
    """GD-1.2.5: >= 2 uplinks from >= 2 distinct providers, each >= 10 Mbps."""
    lines = [s for s in subjects if f"{P}uplink.provider" in s.labels]
    providers = {s.labels[f"{P}uplink.provider"].strip().lower() for s in lines}
    if len(lines) < MIN_UPLINK_PROVIDERS:
        yield Violation("GD-1.2.5", _stack_urn(subjects),
                        f"{len(lines)} uplink(s) declared; at least {MIN_UPLINK_PROVIDERS} required")
    elif len(providers) < MIN_UPLINK_PROVIDERS:
        yield Violation("GD-1.2.5", lines[0].urn,
                        f"uplinks come from {len(providers)} provider(s) ({', '.join(sorted(providers))}); "
                        f"at least {MIN_UPLINK_PROVIDERS} distinct providers required")
    for line in lines:
        raw = line.labels.get(f"{P}uplink.bandwidth-mbps", "0")
        mbps = float(raw) if raw.replace(".", "", 1).isdigit() else 0.0
        if mbps < MIN_UPLINK_MBPS:
            yield Violation("GD-1.2.5", line.urn,
                            f"uplink bandwidth {raw} Mbps is below the {MIN_UPLINK_MBPS} Mbps required")


def _repositories(subjects: list[Subject]) -> list[Subject]:
    return [s for s in subjects if f"{P}backup.repository" in s.labels]


@rule("EH-2.2.3")
def offsite_backups(subjects: list[Subject]) -> Iterable[Violation]:
    """EH-2.2.3: >= 2 complete copies, each off-site: not in the primary's region nor each other's."""
    repos = _repositories(subjects)
    if len(repos) < MIN_BACKUP_COPIES:
        yield Violation("EH-2.2.3", _stack_urn(subjects),
                        f"{len(repos)} backup repository(ies); at least {MIN_BACKUP_COPIES} complete copies required")
    primary_regions = {h.labels.get(f"{P}region") for h in _with_role(subjects, "database")}
    seen: dict[str, str] = {}
    for repo in repos:
        region = repo.labels.get(f"{P}region", "")
        if region in primary_regions:
            yield Violation("EH-2.2.3", repo.urn,
                            f"backup copy is in {region}, the primary site's region; it must be off-site")
        if region in seen:
            yield Violation("EH-2.2.3", repo.urn,
                            f"backup copy shares region {region} with {seen[region]}; "
                            "copies must be in distinct regions")
        seen.setdefault(region, repo.name)
        if repo.labels.get(f"{P}backup.complete-copy") != "true":
            yield Violation("EH-2.2.3", repo.urn, "backup repository does not hold a complete copy")


@rule("EH-1.2.3")
def retention(subjects: list[Subject]) -> Iterable[Violation]:
    """EH-1.2.3: key records kept at least five years."""
    for repo in _repositories(subjects):
        raw = repo.labels.get(f"{P}backup.retention-days", "0")
        days = int(raw) if raw.isdigit() else 0
        if days < MIN_RETENTION_DAYS:
            yield Violation("EH-1.2.3", repo.urn,
                            f"backup retention {raw} days is below five years ({MIN_RETENTION_DAYS} days)")


@rule("TM-5.2")
def encrypted_backups(subjects: list[Subject]) -> Iterable[Violation]:
    """TM-5.2: patient data encrypted in storage, backups included."""
    for repo in _repositories(subjects):
        cipher = repo.labels.get(f"{P}backup.cipher", "none")
        if cipher in ("", "none"):
            yield Violation("TM-5.2", repo.urn, "backup repository is not encrypted")


SECURITY_GROUP = "alicloud:ecs/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
SETTING_SUBJECTS = (SECURITY_GROUP, SECURITY_GROUP_RULE)
"""Resource types the rules judge by their settings, labelled or not."""
INTERNET_PORTS = frozenset({80, 443, 3478, *range(RELAY_PORTS[0], RELAY_PORTS[1] + 1)})
"""What may be open to 0.0.0.0/0: patients' HTTPS (and its redirect), TURN and its relay range."""


def _ports(port_range: str) -> set[int]:
    low, _, high = str(port_range).partition("/")
    first, last = int(low), int(high or low)
    return set(range(1, 65536)) if first < 0 else set(range(first, last + 1))


@rule("GD-1.2.1")
def segments_by_port(subjects: list[Subject]) -> Iterable[Violation]:
    """GD-1.2.1 (MLPS boundary protection): no accept-all security group; rules by port; only public ports public."""
    for group in (s for s in subjects if s.type == SECURITY_GROUP):
        if group.props.get("innerAccessPolicy") != "Drop":
            policy = group.props.get("innerAccessPolicy")
            yield Violation("GD-1.2.1", group.urn, "security group admits all traffic between its members "
                            f"(inner_access_policy={policy!r}); use Drop and rules by port")
    for entry in (s for s in subjects if s.type == SECURITY_GROUP_RULE):
        if entry.props.get("policy", "accept") != "accept" or entry.props.get("type") != "ingress":
            continue
        ports = _ports(entry.props.get("portRange", "-1/-1"))
        if len(ports) > 1000:
            yield Violation("GD-1.2.1", entry.urn, f"rule opens {entry.props.get('portRange')}: name the ports")
        elif entry.props.get("cidrIp") == "0.0.0.0/0" and not ports <= INTERNET_PORTS:
            yield Violation("GD-1.2.1", entry.urn, f"rule opens {entry.props.get('portRange')} to the internet; "
                            "only HTTPS and TURN may be public")


ECS_INSTANCE = "alicloud:ecs/instance:Instance"


@rule("TM-5.2")
def encrypted_cloud_disks(subjects: list[Subject]) -> Iterable[Violation]:
    """TM-5.2: a cloud host's disk is encrypted with a key of the stack (containers: see the host checks)."""
    for host in (s for s in subjects if s.type == ECS_INSTANCE):
        if not host.props.get("systemDiskEncrypted") or not host.props.get("systemDiskKmsKeyId"):
            yield Violation("TM-5.2", host.urn, "system disk not encrypted with a KMS key: patient data at rest")


@rule("GD-1.2.1")
def central_logs(subjects: list[Subject]) -> Iterable[Violation]:
    """GD-1.2.1 (MLPS level 3 security audit): a log host keeps every host's logs at least 180 days."""
    log_hosts = _with_role(subjects, "log")
    if not log_hosts:
        yield Violation("GD-1.2.1", _stack_urn(subjects),
                        "no log host declared: MLPS level 3 keeps every host's logs centrally")
    for host in log_hosts:
        raw = host.labels.get(f"{P}logs.retention-days", "0")
        days = int(raw) if raw.isdigit() else 0
        if days < MIN_LOG_RETENTION_DAYS:
            yield Violation("GD-1.2.1", host.urn,
                            f"log retention {raw} days is below six months ({MIN_LOG_RETENTION_DAYS} days)")


def rule_requirements() -> tuple[str, ...]:
    """Requirement IDs the rules judge, in declaration order."""
    return tuple(r for rule in RULES for r in rule.requirements)


def check(subjects: list[Subject]) -> list[Violation]:
    """Every violation of every rule."""
    return [violation for r in RULES for violation in r.check(subjects)]


def subjects_from(resources: Iterable[Any]) -> list[Subject]:
    """Subjects from anything with urn, type, name and props or inputs (graph or policy-pack resources)."""
    subjects = []
    for resource in resources:
        props = getattr(resource, "props", None)
        if props is None:
            props = getattr(resource, "inputs", {})
        labels = labels_of(props)
        kind = getattr(resource, "resource_type", None) or getattr(resource, "type", "")
        if labels or kind in SETTING_SUBJECTS:
            subjects.append(Subject(urn=resource.urn, type=kind, name=resource.name, labels=labels, props=props))
    return subjects


"""Stack configuration: parsed once, typed, validated in one place.

Every key lives in the ``ihh`` namespace of ``stacks/Pulumi.<stack>.yaml``. An
unknown key, a wrong type or a value below what a rule demands raises
``ConfigError`` naming the key and the rule, before any resource is declared.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from infra.regions import KNOWN_REGIONS
from infra.thresholds import MIN_LOG_RETENTION_DAYS, MIN_RETENTION_DAYS, MIN_UPLINK_MBPS

if TYPE_CHECKING:
    from infra.inventory import Inventory

NAMESPACE = "ihh"
NAME_RULE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
Platform = Literal["docker", "alicloud", "existing"]
PLATFORMS: tuple[Platform, ...] = ("docker", "alicloud", "existing")
"""docker: the local replica; alicloud: ECS hosts the program creates; existing: servers already there."""
POWER_SUPPLIES = ("dual-feed", "generator", "dual-feed+generator", "single-feed")


class ConfigError(ValueError):
    """A stack config value is missing, of the wrong type or breaks a rule."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(f"config {NAMESPACE}:{key}: {rule}")
        self.key = key
        self.rule = rule


@dataclass(frozen=True)
class Site:
    """A place hosts live in: a name, a cloud region and how the room is powered."""

    name: str
    region: str
    power: str = "dual-feed"


@dataclass(frozen=True)
class Uplink:
    """One broadband uplink: its provider and contracted bandwidth."""

    name: str
    provider: str
    bandwidth_mbps: int


WATCHDOG_SAFETY_MARGIN_S = 1
"""Seconds between the watchdog resetting an isolated primary and its leader key expiring (Patroni's
safety_margin): the watchdog fires ttl - 1 s after the last ping, before any standby may promote (a
standby also needs up to loopWait to see the key gone, and under dropped packets 2 s more for its REST
check of the old primary). Not 2: with ttl 10 a leader riding out an etcd outage in failsafe mode once
pinged 8 s apart (two loops of etcd timeouts and failsafe calls) and was reset though healthy."""


@dataclass(frozen=True)
class FailoverTiming:
    """Patroni's timing knobs; smaller values fail over faster and risk false failovers."""

    ttl: int = 20
    loop_wait: int = 2
    retry_timeout: int = 5


@dataclass(frozen=True)
class DatabaseConfig:
    """The PostgreSQL cluster: how many standbys, synchronous commit, failover timing."""

    standbys: int = 1
    synchronous: bool = True
    dcs_members: int = 3
    failover: FailoverTiming = field(default_factory=FailoverTiming)


@dataclass(frozen=True)
class LocalConfig:
    """Where the local stack publishes its ports: loopback only."""

    bind_address: str = "127.0.0.1"
    port_base: int = 17000
    media_subnet: str = "10.213.77.0/24"
    """The media network's subnet: fixed, so each TURN node's relay address is known when its configuration
    is written and the nodes may relay to each other's relays and to nothing else private. Outside the
    engine's own address pools (172.17-31.x, 192.168.x), so no network it makes later can overlap it."""


@dataclass(frozen=True)
class ProdConfig:
    """The domestic cloud stack: zones of the primary region and the host shape."""

    zones: tuple[str, ...] = ()
    instance_type: str = "ecs.g7.large"
    image_id: str = "debian_12_5_x64_20G_alibase_20240819.vhd"
    vpc_cidr: str = "10.20.0.0/16"


@dataclass(frozen=True)
class SupervisionConfig:
    """The provincial supervision platform the service uploads to (GD-3.2.1).

    The local stack runs a simulator of it (no endpoint is given there); elsewhere the platform's
    upload URL, and the file on each app server where operations put the token the platform issued.
    No endpoint on a server platform: no upload is configured, and the harness says so.
    """

    endpoint: str | None = None
    token_file: str = "/etc/ihh/secrets/supervision-token"  # noqa: S105 - a path, not the token
    lag_target_s: float = 60.0
    """Commit to receipt, p95: what GD-3.2.1's "real time" is held to."""


@dataclass(frozen=True)
class RestoreProjection:
    """Production sizes the restore drill's measured throughput is projected to (EH-2.2.3, EH-3.3.2)."""

    data_gb: float = 500.0
    wal_gb: float = 50.0


@dataclass(frozen=True)
class BackupSchedule:
    """How often each copy takes each kind of backup, run by the repository host's own timer (EH-2.2.3).

    A DBA's defaults: a full backup weekly, a differential daily, an incremental hourly. A copy is
    stale when its newest full is older than ``full_s`` + ``slack_s``, or its newest backup of any
    kind older than ``incr_s`` + ``slack_s``.
    """

    full_s: int = 7 * 86400
    diff_s: int = 86400
    incr_s: int = 3600
    slack_s: int = 1800


DURATION = re.compile(r"^([1-9][0-9]*)(s|m|h|d)$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


FAILURE_MODES = {
    # mode: incidents a year assumed when the stack config declares none (README, "Availability")
    "uplink-outage": 6.0,
    "provider-degraded": 12.0,
    "app-server-failure": 4.0,
    "database-primary-failure": 2.0,
    "av-node-failure": 4.0,
    "site-power-loss": 1.0,
    "backup-site-outage": 4.0,
    "dcs-member-loss": 4.0,
    "dcs-quorum-loss": 1.0,
    "database-primary-partition": 1.0,
    "lagging-standby-primary-failure": 0.5,
    "wal-disk-full": 0.5,
    "supervision-platform-outage": 12.0,
}
"""Failure modes the chaos drills measure, with the default expected incidents a year for the downtime model."""

FAILURE_MODE_REPORTS = {
    "dcs-quorum-loss": (
        "Cloudflare, 2020-11-02: a half-failed switch left etcd unable to elect a leader (read-only), "
        "PostgreSQL clusters under it failed over, 6 h 33 min of API degradation",
        "https://blog.cloudflare.com/a-byzantine-failure-in-the-real-world/"),
    "database-primary-partition": (
        "GitHub, 2018-10-21: 43 s of lost connectivity, a replica promoted while the old primary still took "
        "writes, 24 h 11 min of degraded service to reconcile them",
        "https://github.blog/2018-10-30-oct21-post-incident-analysis/"),
    "lagging-standby-primary-failure": (
        "GitLab, 2017-01-31: the standby fell behind until replication broke; rebuilding it under load "
        "ended in the primary's data deleted, 18 h of outage and 6 h of data lost",
        "https://about.gitlab.com/blog/2017/02/10/postmortem-of-database-outage-of-january-31/"),
    "wal-disk-full": (
        "Crunchy Data (a PostgreSQL support vendor), 'Postgres is Out of Disk and How to Recover': a failing "
        "archive_command or a disconnected standby's replication slot piles WAL up until PostgreSQL stops; a "
        "vendor's account of the cases it is called to, not one incident's report",
        "https://blog.crunchydata.com/blog/postgres-is-out-of-disk-and-how-to-recover-the-dos-and-donts"),
}
"""Published incident reports of the failure modes issue 16 added: each shows the mode happens in production
and what it cost. None states a frequency, so the default rates above stay assumptions (README, Availability)."""


@dataclass(frozen=True)
class StackConfig:
    """Everything a stack program needs to declare the topology."""

    stack: str
    platform: Platform
    primary_site: Site
    app_servers: int
    uplinks: tuple[Uplink, ...]
    av_nodes: int
    backup_sites: tuple[Site, ...]
    backup_retention_days: int
    database: DatabaseConfig
    local: LocalConfig
    prod: ProdConfig
    service_image: str | None = None
    restore_projection: RestoreProjection = field(default_factory=RestoreProjection)
    incidents_per_year: dict[str, float] = field(default_factory=lambda: dict(FAILURE_MODES))
    backup_schedule: BackupSchedule = field(default_factory=BackupSchedule)
    supervision: SupervisionConfig = field(default_factory=SupervisionConfig)
    log_retention_days: int = MIN_LOG_RETENTION_DAYS
    existing: Inventory | None = None
    """The servers of an ``existing`` stack; None on the platforms whose program creates its hosts."""


KNOWN_KEYS = {
    "platform", "primarySite", "appServers", "uplinks", "avNodes", "backupSites",
    "backupRetentionDays", "database", "local", "prod", "serviceImage", "restoreProjection", "supervision",
    "incidentsPerYear", "backupSchedule", "logRetentionDays", "existing",
}


def _decode(key: str, raw: Any) -> Any:
    """Pulumi hands structured values over as JSON text; plain values stay as they are."""
    if isinstance(raw, str) and raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(key, f"is not valid JSON ({exc.msg})") from exc
    return raw


def _int(key: str, value: Any, low: int, high: int, rule: str = "") -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, rule or f"must be between {low} and {high}, got {value}")
    return value


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")
    return value


def _str(key: str, value: Any, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"must be a non-empty string, got {value!r}")
    if pattern is not None and not pattern.match(value):
        raise ConfigError(key, f"must be {what or pattern.pattern}, got {value!r}")
    return value


def _object(key: str, value: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be an object, got {type(value).__name__}")
    for name in value:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
    for name in required:
        if name not in value:
            raise ConfigError(f"{key}.{name}", "is required")
    return value


def _list(key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list, got {type(value).__name__}")
    return value


def _region(key: str, value: Any) -> str:
    region = _str(key, value)
    if region not in KNOWN_REGIONS:
        raise ConfigError(key, f"unknown region {region!r}; known: {', '.join(sorted(KNOWN_REGIONS))}")
    return region


def _site(key: str, value: Any) -> Site:
    raw = _object(key, value, {"name", "region", "power"}, {"name", "region"})
    power = raw.get("power", "dual-feed")
    if power not in POWER_SUPPLIES:
        raise ConfigError(f"{key}.power", f"must be one of {', '.join(POWER_SUPPLIES)}, got {power!r}")
    return Site(
        name=_str(f"{key}.name", raw["name"], NAME_RULE, "lower-case letters, digits and dashes"),
        region=_region(f"{key}.region", raw["region"]),
        power=power,
    )


def _uplink(key: str, value: Any) -> Uplink:
    raw = _object(key, value, {"name", "provider", "bandwidthMbps"}, {"name", "provider", "bandwidthMbps"})
    return Uplink(
        name=_str(f"{key}.name", raw["name"], NAME_RULE, "lower-case letters, digits and dashes"),
        provider=_str(f"{key}.provider", raw["provider"]),
        bandwidth_mbps=_int(
            f"{key}.bandwidthMbps", raw["bandwidthMbps"], MIN_UPLINK_MBPS, 100_000,
            f"GD-1.2.5 requires at least {MIN_UPLINK_MBPS} Mbps per uplink, got {raw['bandwidthMbps']}",
        ),
    )


def _database(value: Any) -> DatabaseConfig:
    raw = _object("database", value, {"standbys", "synchronous", "dcsMembers", "failover"}, set())
    timing = _object("database.failover", raw.get("failover", {}), {"ttl", "loopWait", "retryTimeout"}, set())
    defaults = FailoverTiming()
    failover = FailoverTiming(
        ttl=_int("database.failover.ttl", timing.get("ttl", defaults.ttl), 5, 120),
        loop_wait=_int("database.failover.loopWait", timing.get("loopWait", defaults.loop_wait), 1, 30),
        retry_timeout=_int(
            "database.failover.retryTimeout", timing.get("retryTimeout", defaults.retry_timeout), 1, 60
        ),
    )
    if failover.loop_wait + 2 * failover.retry_timeout > failover.ttl:
        raise ConfigError(
            "database.failover",
            "Patroni needs loopWait + 2 x retryTimeout <= ttl, "
            f"got {failover.loop_wait} + 2 x {failover.retry_timeout} > {failover.ttl}",
        )
    if failover.loop_wait + 2 * failover.retry_timeout >= failover.ttl - WATCHDOG_SAFETY_MARGIN_S:
        raise ConfigError(
            "database.failover",
            f"the watchdog fires ttl - {WATCHDOG_SAFETY_MARGIN_S} s after the leader's last good loop, so "
            "loopWait + 2 x retryTimeout must stay below it (or a DCS outage that failsafe mode rides through "
            f"resets the primary): got {failover.loop_wait} + 2 x {failover.retry_timeout} >= "
            f"{failover.ttl} - {WATCHDOG_SAFETY_MARGIN_S}",
        )
    members = _int("database.dcsMembers", raw.get("dcsMembers", 3), 1, 7)
    if members % 2 == 0:
        raise ConfigError("database.dcsMembers", f"must be odd so a majority exists, got {members}")
    return DatabaseConfig(
        standbys=_int("database.standbys", raw.get("standbys", 1), 1, 8,
                      "EH-2.2.1 requires at least one hot standby"),
        synchronous=_bool("database.synchronous", raw.get("synchronous", True)),
        dcs_members=members,
        failover=failover,
    )


def _local(value: Any) -> LocalConfig:
    raw = _object("local", value, {"bindAddress", "portBase", "mediaSubnet"}, set())
    bind = _str("local.bindAddress", raw.get("bindAddress", "127.0.0.1"))
    try:
        loopback = ipaddress.ip_address(bind).is_loopback
    except ValueError as exc:
        raise ConfigError("local.bindAddress", f"must be an IP address, got {bind!r}") from exc
    if not loopback:
        raise ConfigError("local.bindAddress", f"must be a loopback address (127.0.0.0/8 or ::1), got {bind}")
    subnet = _str("local.mediaSubnet", raw.get("mediaSubnet", LocalConfig.media_subnet))
    try:
        media = ipaddress.IPv4Network(subnet)
    except ValueError as exc:
        raise ConfigError("local.mediaSubnet",
                          f"must be an IPv4 network such as 10.213.77.0/24, got {subnet!r}") from exc
    if not media.is_private or not 16 <= media.prefixlen <= 26:
        raise ConfigError("local.mediaSubnet", f"must be a private IPv4 network of /16 to /26, got {subnet}")
    return LocalConfig(bind_address=bind, port_base=_int("local.portBase", raw.get("portBase", 17000), 1024, 64000),
                       media_subnet=str(media))


def _prod(value: Any) -> ProdConfig:
    raw = _object("prod", value, {"zones", "instanceType", "imageId", "vpcCidr"}, set())
    zones = tuple(_str(f"prod.zones[{i}]", z) for i, z in enumerate(_list("prod.zones", raw.get("zones", []))))
    defaults = ProdConfig()
    cidr = _str("prod.vpcCidr", raw.get("vpcCidr", defaults.vpc_cidr))
    try:
        ipaddress.ip_network(cidr)
    except ValueError as exc:
        raise ConfigError("prod.vpcCidr", f"must be a CIDR block, got {cidr!r}") from exc
    return ProdConfig(
        zones=zones,
        instance_type=_str("prod.instanceType", raw.get("instanceType", defaults.instance_type)),
        image_id=_str("prod.imageId", raw.get("imageId", defaults.image_id)),
        vpc_cidr=cidr,
    )


def _positive(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(key, f"must be a positive number, got {value!r}")
    return float(value)


def _restore_projection(value: Any) -> RestoreProjection:
    raw = _object("restoreProjection", value, {"dataGb", "walGb"}, set())
    defaults = RestoreProjection()
    return RestoreProjection(
        data_gb=_positive("restoreProjection.dataGb", raw.get("dataGb", defaults.data_gb)),
        wal_gb=_positive("restoreProjection.walGb", raw.get("walGb", defaults.wal_gb)),
    )


HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")
ABSOLUTE_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")


def _supervision(platform: str, value: Any) -> SupervisionConfig:
    raw = _object("supervision", value, {"endpoint", "tokenFile", "lagTargetS"}, set())
    defaults = SupervisionConfig()
    endpoint = raw.get("endpoint")
    if endpoint is not None and platform == "docker":
        raise ConfigError("supervision.endpoint", "the local stack uploads to its own simulator of the platform; "
                                                  "an endpoint is for stacks on servers")
    return SupervisionConfig(
        endpoint=None if endpoint is None else _str("supervision.endpoint", endpoint, HTTPS_URL,
                                                    "an https:// URL (host, optional port and path)"),
        token_file=_str("supervision.tokenFile", raw.get("tokenFile", defaults.token_file), ABSOLUTE_PATH,
                        "an absolute path"),
        lag_target_s=_positive("supervision.lagTargetS", raw.get("lagTargetS", defaults.lag_target_s)),
    )


def _duration(key: str, value: Any) -> int:
    match = DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(key, f"must be a duration like 90s, 15m, 1h or 7d, got {value!r}")
    return int(match.group(1)) * SECONDS[match.group(2)]


def _backup_schedule(value: Any) -> BackupSchedule:
    raw = _object("backupSchedule", value, {"full", "diff", "incr", "slack"}, set())
    defaults = BackupSchedule()
    schedule = BackupSchedule(**{
        f"{kind}_s": _duration(f"backupSchedule.{kind}", raw[kind]) if kind in raw else getattr(defaults, f"{kind}_s")
        for kind in ("full", "diff", "incr", "slack")})
    if not schedule.full_s >= schedule.diff_s >= schedule.incr_s >= 60:
        raise ConfigError("backupSchedule", "needs full >= diff >= incr >= 1m (a differential builds on a full, an "
                                            f"incremental on either), got full {raw.get('full', '7d')}, "
                                            f"diff {raw.get('diff', '1d')}, incr {raw.get('incr', '1h')}")
    return schedule


def parse_config(stack: str, values: Mapping[str, Any]) -> StackConfig:
    """Turn raw ``ihh:*`` values (namespace stripped) into a validated StackConfig."""
    for key in values:
        if key not in KNOWN_KEYS:
            raise ConfigError(key, f"unknown key; known keys: {', '.join(sorted(KNOWN_KEYS))}")
    raw = {key: _decode(key, value) for key, value in values.items()}
    for key in ("platform", "primarySite", "uplinks", "backupSites"):
        if key not in raw:
            raise ConfigError(key, "is required")
    platform = raw["platform"]
    if platform not in PLATFORMS:
        raise ConfigError("platform", f"must be one of {', '.join(PLATFORMS)}, got {platform!r}")
    uplinks = tuple(_uplink(f"uplinks[{i}]", u) for i, u in enumerate(_list("uplinks", raw["uplinks"])))
    sites = tuple(_site(f"backupSites[{i}]", s) for i, s in enumerate(_list("backupSites", raw["backupSites"])))
    _unique("uplinks", [u.name for u in uplinks])
    primary = _site("primarySite", raw["primarySite"])
    _unique("backupSites", [primary.name, *[s.name for s in sites]])
    retention = raw.get("backupRetentionDays", MIN_RETENTION_DAYS)
    service_image = raw.get("serviceImage")
    if service_image is not None and platform != "docker":
        raise ConfigError("serviceImage", "replaces the local stack's service image; on alicloud bake it into "
                                          "prod.imageId")
    return StackConfig(
        existing=_existing(platform, raw, primary, sites, uplinks),
        stack=stack,
        platform=platform,
        primary_site=primary,
        app_servers=_int("appServers", raw.get("appServers", 2), 1, 16),
        uplinks=uplinks,
        av_nodes=_int("avNodes", raw.get("avNodes", 2), 1, 16),
        backup_sites=sites,
        backup_retention_days=_int(
            "backupRetentionDays", retention, MIN_RETENTION_DAYS, 36500,
            f"EH-1.2.3 requires key records kept five years ({MIN_RETENTION_DAYS} days), got {retention}",
        ),
        database=_database(raw.get("database", {})),
        local=_local(raw.get("local", {})),
        prod=_prod(raw.get("prod", {})),
        service_image=None if service_image is None else _str("serviceImage", service_image),
        restore_projection=_restore_projection(raw.get("restoreProjection", {})),
        incidents_per_year=_incidents(raw.get("incidentsPerYear", {})),
        backup_schedule=_backup_schedule(raw.get("backupSchedule", {})),
        supervision=_supervision(platform, raw.get("supervision", {})),
        log_retention_days=_int(
            "logRetentionDays", raw.get("logRetentionDays", MIN_LOG_RETENTION_DAYS), MIN_LOG_RETENTION_DAYS, 36500,
            f"MLPS level 3 keeps logs at least {MIN_LOG_RETENTION_DAYS} days (six months), "
            f"got {raw.get('logRetentionDays')}",
        ),
    )


def _existing(platform: str, raw: Mapping[str, Any], primary: Site, sites: tuple[Site, ...],
              uplinks: tuple[Uplink, ...]) -> Inventory | None:
    if platform != "existing":
        if "existing" in raw:
            raise ConfigError("existing", f"declares existing servers; it needs platform existing, not {platform}")
        return None
    if "existing" not in raw:
        raise ConfigError("existing", "is required on platform existing: the servers, their SSH and host keys")
    from infra.inventory import parse_inventory  # here: the inventory module builds on this one's parsers

    return parse_inventory(raw["existing"], (primary.name, *[s.name for s in sites]), tuple(u.name for u in uplinks))


def _incidents(raw: Any) -> dict[str, float]:
    """Expected incidents a year per failure mode: the declared ones over the documented defaults."""
    raw = _decode("incidentsPerYear", raw)
    if not isinstance(raw, Mapping):
        raise ConfigError("incidentsPerYear", "must be a mapping of failure mode to incidents a year")
    rates = dict(FAILURE_MODES)
    for mode, value in raw.items():
        key = f"incidentsPerYear.{mode}"
        if mode not in FAILURE_MODES:
            raise ConfigError(key, f"is not a failure mode; known: {', '.join(FAILURE_MODES)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 365:
            raise ConfigError(key, f"must be a number of incidents a year from 0 to 365, got {value!r}")
        rates[mode] = float(value)
    return rates


def _unique(key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(key, f"name {name!r} is used twice; names must be unique")
        seen.add(name)


def load_from_pulumi() -> StackConfig:
    """Read the running program's ``ihh:*`` config (CLI or mock runtime) and validate it."""
    import pulumi
    from pulumi.runtime.config import CONFIG

    prefix = f"{NAMESPACE}:"
    values = {k[len(prefix):]: v for k, v in CONFIG.get().items() if k.startswith(prefix)}
    return parse_config(pulumi.get_stack(), values)

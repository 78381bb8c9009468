"""Platform-neutral description of a host: what components ask a platform to provision.

Components decide *what* runs where (roles, files, networks, ports); a platform
(Docker locally, Alibaba Cloud in production) decides *how* a host comes to exist.
Compliance facts travel as labels with the ``ihh.`` prefix so the policy rules can
read them from any platform's resource graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import pulumi

from infra.config import Site, StackConfig, Uplink

if TYPE_CHECKING:  # the platforms' return types, which import this module themselves
    from infra.secrets import StackSecrets
    from infra.supervision import SupervisionRoute

LABEL_PREFIX = "ihh."
DISK_SIZE_LABEL = f"{LABEL_PREFIX}disk-size-mb"
"""On a local volume that stands for a disk of its own: the size of the filesystem mounted behind it."""
DISK_MARK = ".ihh-disk"
"""A file on the root of every disk's filesystem, written when it is made and mounted: a host's start-up
tells by it that it got the disk, not the bare directory under the mount point."""
OPS_USER = "ihh-ops"
AUTHORIZED_KEYS = f"/etc/ssh/authorized_keys/{OPS_USER}"
SSH_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key"
ADMIT_ONLY_FILE = "/etc/ihh/admit-only.json"
"""Where a local host learns its ``admit_only`` rules; ihh-init turns them into iptables rules at each start."""
Role = Literal["app", "database", "dcs", "ingress", "wan", "av", "backup", "log"]
NetworkName = Literal["uplink", "app", "sql", "db", "backup", "media"]

NETWORKS: dict[NetworkName, bool] = {
    "uplink": False,  # the provider side; published to the host's loopback
    "app": True,
    "sql": True,  # PostgreSQL's port only: the app tier and the database members
    "db": True,  # the database tier's control plane: Patroni REST, etcd, replication
    "backup": True,
    "media": False,  # TURN listens for clients here
}
"""Each segment and whether it is internal (no route out, nothing published)."""


@dataclass(frozen=True)
class Port:
    """A port a host exposes to operators or clients, by purpose."""

    purpose: str
    container_port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    slot: int | None = None
    """Where a platform publishes a host's ports in a block of its own (locally): a fixed place in it, for a port
    whose address other hosts are told before this host is declared; by default the next free place."""


@dataclass(frozen=True)
class File:
    """A file the host needs before its services start; secret files get mode 0600."""

    path: str
    content: pulumi.Input[str]
    owner: str = "root"
    mode: str = "0644"
    group: str | None = None
    """The file's group where it is not the owner's own (``nobody`` has none on Debian: ``nogroup``)."""


@dataclass(frozen=True)
class Disk:
    """A filesystem of its own, of a fixed size, mounted at ``mount``: what must fill up alone (the WAL).

    A data disk of the instance in prod; locally a loop-mounted ext4 image bound into the container, so a
    drill can fill it without filling the machine.
    """

    name: str
    mount: str
    size_mb: int


@dataclass(frozen=True)
class Service:
    """A long-running service of a role, by its name under each service manager: what a crash drill kills
    over SSH (every process of ``user`` with it, where given: PostgreSQL under Patroni) and starts again."""

    name: str
    supervisor: str
    """The supervisord program (the local images)."""
    systemd: str
    """The systemd unit (a real host)."""
    user: str | None = None


ROLE_SERVICES: dict[Role, tuple[Service, ...]] = {
    "app": (Service("service", "service", "ihh-service"),),
    "database": (Service("patroni", "patroni", "patroni", user="postgres"),
                 Service("pgbackrest-server", "pgbackrest-server", "pgbackrest")),
    "dcs": (Service("etcd", "etcd", "etcd"),),
    "ingress": (Service("haproxy", "haproxy", "haproxy"),),
    "wan": (Service("toxiproxy", "toxiproxy", "toxiproxy"),),
    "av": (Service("turnserver", "turnserver", "coturn"),),
    "backup": (Service("pgbackrest-server", "pgbackrest-server", "pgbackrest"),),
    "log": (Service("rsyslog", "rsyslog", "rsyslog"),),
}
"""What each role runs, in the outputs of every host (``services``): a drill's crash of a host's services."""


@dataclass(frozen=True)
class Healthcheck:
    """A command the platform runs to decide that the host's service is healthy.

    The engine runs it every ``interval_s``: rarely, since each run starts a process in the container (15 hosts
    probed every 2 s took a third of two cores, time the drills' timing then lacked). ``up`` does not wait for
    that interval: it runs the same command itself until it passes.
    """

    command: tuple[str, ...]
    interval_s: int = 15
    timeout_s: int = 3
    retries: int = 4
    start_period_s: int = 60


@dataclass(frozen=True)
class HostSpec:
    """One host of the topology, as a component wants it."""

    name: str
    roles: tuple[Role, ...]
    site: Site
    image: Role
    ordinal: int
    networks: tuple[NetworkName, ...]
    ports: tuple[Port, ...] = ()
    files: tuple[File, ...] = ()
    volumes: tuple[tuple[str, str], ...] = ()
    disks: tuple[Disk, ...] = ()
    healthcheck: Healthcheck | None = None
    labels: dict[str, str] = field(default_factory=dict)
    replacement_image: str | None = None
    """A user's own image for this host's role (``serviceImage``), used instead of the one the project builds."""
    admit_only: tuple[tuple[NetworkName, tuple[int, ...]], ...] = ()
    """On these networks the host admits only these TCP ports (a segment shared with a less trusted tier)."""
    ships_logs: bool = True
    """The platform adds the rules that forward this host's logs to the log host (all but the log host)."""


@dataclass
class Host:
    """A provisioned host: its resource and where operators reach its published ports."""

    name: str
    roles: tuple[Role, ...]
    site: Site
    resource: pulumi.Resource
    container: pulumi.Output[str] | None
    """The container that is this host, on the local platform: its power switch is the engine."""
    endpoints: dict[str, pulumi.Output[str]]
    """Purpose -> ``address:port`` an operator on the control machine reaches it at."""
    ssh_host_key: pulumi.Output[str]
    """The host's SSH public key, for strict host-key checking."""
    instance_id: pulumi.Output[str] | None = None
    """The cloud instance that is this host (an ECS instance ID): its power switch is the cloud's API."""


def labels_for(spec: HostSpec, stack: str) -> dict[str, str]:
    """The compliance labels every host carries, plus the component's own."""
    return {
        f"{LABEL_PREFIX}stack": stack,
        f"{LABEL_PREFIX}host": spec.name,
        f"{LABEL_PREFIX}roles": ",".join(spec.roles),
        f"{LABEL_PREFIX}site": spec.site.name,
        f"{LABEL_PREFIX}region": spec.site.region,
        f"{LABEL_PREFIX}site-power": spec.site.power,
        **spec.labels,
    }


class Platform(Protocol):
    """What a stack's platform provides to the components."""

    stack: str
    host_watchdog: dict[str, str]
    """Patroni's watchdog ``driver`` and ``device`` on this platform's hosts: what fences an isolated primary."""

    def host(self, spec: HostSpec, parent: pulumi.Resource, depends_on: list[pulumi.Resource]) -> Host:
        """Provision one host with its files, networks and published ports."""
        ...

    def internal_address(self, host_name: str) -> str:
        """The name other hosts use to reach ``host_name`` on a shared network."""
        ...

    def address_on(self, host_name: str, network: NetworkName) -> str:
        """The name that reaches ``host_name`` on ``network`` itself, whatever other networks two hosts share."""
        ...

    def relay_address(self, spec: HostSpec) -> str | None:
        """The address a TURN node's relays get, where the platform fixes it before the node exists (locally, on
        the media network); None where relays use public addresses, which no denied peer range covers."""
        ...

    def media_lines(self, av_hosts: list[Host], token: pulumi.Output[str]) -> dict[str, pulumi.Output[str]]:
        """Where clients send each TURN node's UDP: the node itself, or a line simulator in front of it whose
        API (``token``) impairs the media path as Toxiproxy does the uplinks."""
        ...

    def supervision_route(self, config: StackConfig, ingress_names: dict[str, str],
                          secrets: StackSecrets) -> SupervisionRoute | None:
        """How the app servers reach the provincial supervision platform: a simulator of it (locally), the
        platform's configured URL, or None when the stack configures none."""
        ...

    def provider_lines(
        self, uplinks: tuple[Uplink, ...], ingress: dict[str, Host], ingress_port: int,
        parent: pulumi.Resource, site: Site,
    ) -> tuple[Host | None, dict[str, dict[str, pulumi.Output[str]]]]:
        """Each uplink's line in front of its ingress: URL clients use, and fault-injection handle."""
        ...

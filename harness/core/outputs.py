"""The outputs contract as drills, checks and load see it: typed, validated once, looked up by name.

``harness up`` saves the program's resolved outputs; secrets stay in the stack's
private folder, the SSH key and CA certificate are written there as files, and
anything printed for a person shows ``[secret]`` in place of a secret. Nothing outside
this module reads the outputs dict by string key: a missing or misspelt field is one
error here, naming the field, not a ``KeyError`` deep inside a drill.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.core.state import outputs_path, stack_dir, write_private

SECRET_KEYS = ("ssh_private_key", "secrets")
MASK = "[secret]"
T = TypeVar("T")


class OutputsMissingError(RuntimeError):
    """The stack has no saved outputs: it was never brought up, or it was taken down."""


class OutputsError(ValueError):
    """The outputs lack a field or hold one of the wrong type; names the stack and the field."""


class UnknownNameError(LookupError):
    """A host, site, uplink or member asked for by a name the outputs do not have; lists the names they have."""

    def __init__(self, stack: str, kind: str, name: object, known: Iterable[str]) -> None:
        super().__init__(f"stack {stack!r} has no {kind} {name!r} ({kind}s: {', '.join(known) or 'none'})")

    def __str__(self) -> str:  # LookupError's str() would quote the message
        return str(self.args[0])


KEY = "outputs_key"
"""Field metadata: the key a field is read from when it differs from its name; None: not read from the outputs."""


class _Record:
    """Base of the typed records: ``parse`` reads each dataclass field from the raw mapping by its name and type,
    naming the field's path in every error; ``check`` adds a record's own rules."""

    @classmethod
    def parse(cls, raw: Any, where: str) -> Any:
        if not isinstance(raw, Mapping):
            raise OutputsError(f"{where}: must be a mapping, got {type(raw).__name__}")
        hints = typing.get_type_hints(cls)
        values = {f.name: _field(raw, f, hints[f.name], where) for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                  if f.metadata.get(KEY, f.name) is not None}
        record = cls(**values)
        record.check(where)
        return record

    def check(self, where: str) -> None:
        """A record's own rules beyond field types; none by default."""


def _field(raw: Mapping[str, Any], field: dataclasses.Field, hint: Any, where: str) -> Any:
    key = field.metadata.get(KEY, field.name)
    path = f"{where}.{key}"
    if raw.get(key) is None:
        if field.default is not dataclasses.MISSING:
            return field.default
        raise OutputsError(f"{path}: is missing")
    value = raw[key]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple and args and isinstance(args[0], type) and issubclass(args[0], _Record):
        return tuple(args[0].parse(item, f"{path}[{i}]") for i, item in enumerate(_typed(value, list, path)))
    optional = [a for a in args if a is not type(None)] if type(None) in args else []
    if len(optional) == 1 and isinstance(optional[0], type) and issubclass(optional[0], _Record):
        hint = optional[0]  # ``Record | None``: absent is the default, present must parse
    if isinstance(hint, type) and issubclass(hint, _Record):
        return hint.parse(value, path)
    kind = {tuple: list, dict: dict}.get(origin) or next((a for a in args if a is not type(None)), hint)
    if kind is float:
        return float(_typed(value, (int, float), path))
    return (tuple if origin is tuple else lambda v: v)(_typed(value, kind, path))


def _typed(value: Any, kind: type | tuple[type, ...], path: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds):
        raise OutputsError(f"{path}: must be {' or '.join(k.__name__ for k in kinds)}, got {type(value).__name__}")
    return value


def _endpoint(value: str, where: str) -> tuple[str, int]:
    address, _, port = value.rpartition(":")
    if not address or not port.isdigit():
        raise OutputsError(f"{where}: must be host:port, got {value!r}")
    return address, int(port)


@dataclass(frozen=True)
class Service(_Record):
    """A long-running service of a host, by its name under each service manager (see ``infra.model.Service``)."""

    name: str
    supervisor: str
    systemd: str
    user: str | None = None


TARGETS = ("ssh", "docker")
"""The ways a drill may reach a host (see ``Host.target``)."""


@dataclass(frozen=True)
class Host(_Record):
    """One machine of the stack: its roles, where it stands and how an operator reaches it."""

    name: str
    roles: tuple[str, ...]
    site: str
    region: str
    ssh: str
    ssh_host_key: str
    container: str | None = None
    """The container that is this host on the local platform; None on real hosts."""
    services: tuple[Service, ...] = ()
    """What the host runs for its roles: what a crash over SSH kills and starts again."""
    target: str | None = None
    """How drills reach the host: ``ssh`` (any host) or ``docker`` (a local container, from the engine's
    side); unset: ``docker`` for a container, ``ssh`` otherwise."""
    instance_id: str | None = None
    """The cloud instance that is this host (ECS): what its power switch, the cloud's API, stops and starts."""

    def check(self, where: str) -> None:
        _endpoint(self.ssh, f"{where}.ssh")
        if self.target not in (None, *TARGETS):
            raise OutputsError(f"{where}.target: must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.container and self.instance_id:
            raise OutputsError(f"{where}: a host is a container or a cloud instance, not both "
                               f"({self.container!r}, {self.instance_id!r})")
        if self.target == "docker" and not self.container:
            raise OutputsError(f"{where}.target: docker needs a container (a host of the local platform); "
                               f"{self.name} has none, so it is reached by ssh")

    @property
    def drill_target(self) -> str:
        """``ssh`` or ``docker``: the way drills take to this host's network and processes."""
        return self.target or ("docker" if self.container else "ssh")

    @property
    def ssh_endpoint(self) -> tuple[str, int]:
        return _endpoint(self.ssh, f"host {self.name}.ssh")

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Uplink(_Record):
    """One provider's line into the ingress: the URL patients use, and its fault-injection proxy."""

    name: str
    provider: str
    bandwidth_mbps: int
    url: str
    toxiproxy_proxy: str | None = None
    ingress_host: str = ""

    def check(self, where: str) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise OutputsError(f"{where}.url: must be an http(s) URL, got {self.url!r}")


@dataclass(frozen=True)
class AvNode(_Record):
    """One TURN node: the address clients allocate relays on."""

    name: str
    turn: str
    """Where clients send UDP to the node: through the media line where one stands in front of it (locally)."""
    turn_tcp: str = ""
    realm: str = ""
    internal_port: int = 3478
    turn_direct: str = ""
    """The node's own published UDP address, bypassing any media line."""


@dataclass(frozen=True)
class BackupSite(_Record):
    """One off-site copy: the pgBackRest repository number and the host that keeps it."""

    name: str
    region: str
    host: str
    repository: int
    retention_days: int


@dataclass(frozen=True)
class DatabaseMember(_Record):
    """One PostgreSQL member under Patroni: its database and REST endpoints as an operator reaches them."""

    name: str
    postgres: str
    patroni: str

    def check(self, where: str) -> None:
        _endpoint(self.postgres, f"{where}.postgres")
        _endpoint(self.patroni, f"{where}.patroni")

    @property
    def postgres_endpoint(self) -> tuple[str, int]:
        return _endpoint(self.postgres, f"member {self.name}.postgres")


@dataclass(frozen=True)
class Database(_Record):
    """The Patroni cluster: its members, the service's database and role, the pgBackRest stanza."""

    dbname: str
    user: str
    members: tuple[DatabaseMember, ...]
    scope: str = ""
    stanza: str = "main"

    def check(self, where: str) -> None:
        if not self.members:
            raise OutputsError(f"{where}.members: must name at least one member")


@dataclass(frozen=True)
class Availability(_Record):
    """The availability target and the expected incidents a year per failure mode (the downtime model's input)."""

    target: float
    incidents_per_year: dict[str, float]


@dataclass(frozen=True)
class Supervision(_Record):
    """The route to the provincial supervision platform (GD-3.2.1) and, locally, its simulator's control API."""

    endpoints: tuple[str, ...]
    lag_target_s: float
    control_api: str | None = None
    """The simulator's control API (what it received, how it behaves); None for a real platform."""
    egress_proxies: tuple[str, ...] = ()
    """The Toxiproxy proxies carrying uploads over each line (locally)."""


@dataclass(frozen=True)
class RestoreProjection(_Record):
    """Production sizes the restore drill projects its measured RTO to."""

    data_gb: float
    wal_gb: float


@dataclass(frozen=True)
class BackupSchedule(_Record):
    """How often each copy's own timer takes each kind of backup, and the slack before a copy counts as stale."""

    full_s: int
    diff_s: int
    incr_s: int
    slack_s: int

    def stale_reasons(self, full_age_s: float | None, newest_age_s: float | None) -> list[str]:
        """Why a copy whose newest full and newest backup are this old is stale (empty when it is fresh)."""
        reasons = []
        if full_age_s is None or full_age_s > self.full_s + self.slack_s:
            reasons.append("no full backup" if full_age_s is None else
                           f"newest full backup is {full_age_s / 3600:.1f} h old, limit "
                           f"{(self.full_s + self.slack_s) / 3600:.1f} h")
        if newest_age_s is not None and newest_age_s > self.incr_s + self.slack_s:
            reasons.append(f"newest backup is {_span(newest_age_s)} old, limit {_span(self.incr_s + self.slack_s)}")
        return reasons


def _span(seconds: float) -> str:
    """A backup's age or limit: whole minutes, or seconds below two minutes (a 30 s limit is not "0 min")."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@dataclass(frozen=True)
class LogHost(_Record):
    """Where every host's logs are kept, and for how long (MLPS level 3: at least 180 days)."""

    name: str
    retention_days: int
    directory: str


@dataclass(frozen=True)
class Site(_Record):
    """The primary site: where the serving hosts stand."""

    name: str
    region: str = ""


def save_outputs(stack: str, outputs: dict[str, Any]) -> Path:
    """Persist resolved outputs (0600) with key material alongside as files; refuse outputs that do not parse."""
    StackOutputs.parse(stack, outputs)
    folder = stack_dir(stack)
    write_private(folder / "ssh_key", outputs["ssh_private_key"])
    (folder / "ca.crt").write_text(outputs["ca_cert_pem"])
    return write_private(outputs_path(stack), json.dumps(outputs, indent=2, sort_keys=True))


def outputs_from_pulumi_cli(stack: str) -> dict[str, Any]:
    """Read the outputs of a stack deployed with the Pulumi CLI, for users who have it."""
    if shutil.which("pulumi") is None:
        raise OutputsMissingError("the Pulumi CLI is not installed here")
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack],
        check=True, capture_output=True, text=True,
    )
    return json.loads(result.stdout)


@dataclass(frozen=True)
class StackOutputs(_Record):
    """One stack's outputs, parsed: every record typed, every lookup by name failing with the names that exist."""

    platform: str
    primary_site: Site
    uplinks: tuple[Uplink, ...]
    av_nodes: tuple[AvNode, ...]
    all_hosts: tuple[Host, ...] = dataclasses.field(metadata={KEY: "hosts"})
    ssh_user: str
    backup_sites: tuple[BackupSite, ...]
    database: Database
    restore_projection: RestoreProjection
    availability: Availability
    backup_schedule: BackupSchedule
    toxiproxy_api: str | None = None
    media_line_api: str | None = None
    """The UDP impairer in front of the TURN nodes (the local media line), where one exists."""
    supervision: Supervision | None = None
    """None: the stack configures no supervision platform (GD-3.2.1 is then not tested)."""
    log_host: LogHost | None = None
    """None for hosts whose logs go to a log server of the hospital's own, outside the stack."""
    stack: str = dataclasses.field(default="", metadata={KEY: None})
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, metadata={KEY: None})

    @classmethod
    def load(cls, stack: str) -> StackOutputs:
        path = outputs_path(stack)
        if not path.exists():
            raise OutputsMissingError(f"stack {stack!r} has no outputs at {path}; run `harness --stack {stack} up`")
        return cls.parse(stack, json.loads(path.read_text()))

    @classmethod
    def parse(cls, stack: str, raw: Mapping[str, Any]) -> StackOutputs:  # type: ignore[override]
        """Check every field the harness uses; the first problem raises OutputsError naming it."""
        return dataclasses.replace(super().parse(raw, f"outputs of stack {stack!r}"), stack=stack, raw=raw)

    def reached_by(self, target: str | None) -> StackOutputs:
        """These outputs with every host reached by ``target`` (None: as the outputs say): `--target ssh`
        drills the local stack the way a real one is drilled."""
        if target is None:
            return self
        hosts = tuple(dataclasses.replace(h, target=target) for h in self.all_hosts)
        for i, host in enumerate(hosts):
            host.check(f"outputs of stack {self.stack!r}.hosts[{i}] (--target {target})")
        return dataclasses.replace(self, all_hosts=hosts)

    # ----- lookups by name ------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        return _named(self, "host", name, self.all_hosts)

    def hosts(self, role: str | None = None, site: str | None = None) -> list[Host]:
        """Hosts with ``role`` and/or at ``site`` (every host without either), in declaration order."""
        return [h for h in self.all_hosts if (role is None or h.has_role(role)) and (site is None or h.site == site)]

    def backup_site(self, name: str) -> BackupSite:
        return _named(self, "backup site", name, self.backup_sites)

    def av_node(self, name: str) -> AvNode:
        return _named(self, "A/V node", name, self.av_nodes)

    def uplink(self, ref: str | int) -> Uplink:
        """An uplink by name, or by its position in the outputs (experiments say ``uplink: 0``)."""
        if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(self.uplinks):
            return self.uplinks[ref]
        return _named(self, "uplink", ref, self.uplinks)

    def member(self, name: str) -> DatabaseMember:
        return _named(self, "database member", name, self.database.members)

    def site_of_backup_host(self, host: str) -> BackupSite:
        for site in self.backup_sites:
            if site.host == host:
                return site
        raise UnknownNameError(self.stack, "backup host", host, (s.host for s in self.backup_sites))

    # ----- key material and secrets -----------------------------------------------------------------
    @property
    def ssh_key_path(self) -> Path:
        return stack_dir(self.stack) / "ssh_key"

    @property
    def ca_cert_path(self) -> Path:
        return stack_dir(self.stack) / "ca.crt"

    def secret(self, name: str) -> str:
        """A named secret (``db_app_password``, ``turn_shared_secret``) for a drill's own use."""
        secrets = self.raw.get("secrets") or {}
        if name not in secrets:
            raise UnknownNameError(self.stack, "secret output", name, secrets)
        return str(secrets[name])

    @property
    def secret_names(self) -> tuple[str, ...]:
        """Every secret the stack outputs: what leak scans look for."""
        return tuple(sorted(self.raw.get("secrets") or {}))

    def public(self) -> dict[str, Any]:
        """The contract for printing: key material as paths, secrets masked."""
        view = {k: v for k, v in self.raw.items() if k not in (*SECRET_KEYS, "ca_cert_pem")}
        view["ssh_private_key"] = str(self.ssh_key_path)
        view["ca_cert"] = str(self.ca_cert_path)
        view["secrets"] = {name: MASK for name in self.raw.get("secrets", {})}
        return view


def _named(outputs: StackOutputs, kind: str, name: object, items: Iterable[Any]) -> Any:
    items = list(items)
    for item in items:
        if item.name == name:
            return item
    raise UnknownNameError(outputs.stack, kind, name, (i.name for i in items))

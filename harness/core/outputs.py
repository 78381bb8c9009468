"""The outputs contract as drills, checks and load see it: typed, validated once, looked up by name.

``harness up`` saves the program's resolved outputs; secrets stay in the stack's
private folder, the SSH key and CA certificate are written there as files, and
anything printed for a person shows ``[secret]`` in place of a secret. Nothing outside
this module reads the outputs dict by string key: a missing or misspelt field is one
error here, naming the field, not a ``KeyError`` deep inside a drill.
"""

from __future__ import annotations

import json
import shutil
import subprocess
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


class _Fields:
    """Reads one record of the raw outputs, naming the field path in every error."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, Mapping):
            raise OutputsError(f"{where}: must be a mapping, got {type(raw).__name__}")
        self.raw, self.where = raw, where

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.raw or self.raw[key] is None:
            if default is not ...:
                return default
            raise OutputsError(f"{self.where}.{key}: is missing")
        value = self.raw[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds):
            raise OutputsError(f"{self.where}.{key}: must be {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def records(self, key: str) -> list[tuple[Any, str]]:
        """A list field's items, each with its own path for errors (``hosts[3]``)."""
        return [(item, f"{self.where}.{key}[{i}]") for i, item in enumerate(self.get(key, list))]


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)


def _endpoint(value: str, where: str) -> tuple[str, int]:
    address, _, port = value.rpartition(":")
    if not address or not port.isdigit():
        raise OutputsError(f"{where}: must be host:port, got {value!r}")
    return address, int(port)


@dataclass(frozen=True)
class Host:
    """One machine of the stack: its roles, where it stands and how an operator reaches it."""

    name: str
    roles: tuple[str, ...]
    site: str
    region: str
    ssh: str
    ssh_host_key: str
    container: str | None
    """The container that is this host on the local platform; None on real hosts."""

    @classmethod
    def parse(cls, raw: Any, where: str) -> Host:
        f = _Fields(raw, where)
        host = cls(f.get("name", str), tuple(f.get("roles", list)), f.get("site", str), f.get("region", str),
                   f.get("ssh", str), f.get("ssh_host_key", str), f.get("container", str, None))
        _endpoint(host.ssh, f"{where}.ssh")
        return host

    @property
    def ssh_endpoint(self) -> tuple[str, int]:
        return _endpoint(self.ssh, f"host {self.name}.ssh")

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Uplink:
    """One provider's line into the ingress: the URL patients use, and its fault-injection proxy."""

    name: str
    provider: str
    bandwidth_mbps: int
    url: str
    toxiproxy_proxy: str | None
    ingress_host: str

    @classmethod
    def parse(cls, raw: Any, where: str) -> Uplink:
        f = _Fields(raw, where)
        uplink = cls(f.get("name", str), f.get("provider", str), f.get("bandwidth_mbps", int), f.get("url", str),
                     f.get("toxiproxy_proxy", str, None), f.get("ingress_host", str, ""))
        if not uplink.url.startswith(("http://", "https://")):
            raise OutputsError(f"{where}.url: must be an http(s) URL, got {uplink.url!r}")
        return uplink


@dataclass(frozen=True)
class AvNode:
    """One TURN node: the address clients allocate relays on."""

    name: str
    turn: str
    turn_tcp: str
    realm: str
    internal_port: int

    @classmethod
    def parse(cls, raw: Any, where: str) -> AvNode:
        f = _Fields(raw, where)
        return cls(f.get("name", str), f.get("turn", str), f.get("turn_tcp", str, ""), f.get("realm", str, ""),
                   f.get("internal_port", int, 3478))


@dataclass(frozen=True)
class BackupSite:
    """One off-site copy: the pgBackRest repository number and the host that keeps it."""

    name: str
    region: str
    host: str
    repository: int
    retention_days: int

    @classmethod
    def parse(cls, raw: Any, where: str) -> BackupSite:
        f = _Fields(raw, where)
        return cls(f.get("name", str), f.get("region", str), f.get("host", str), f.get("repository", int),
                   f.get("retention_days", int))


@dataclass(frozen=True)
class DatabaseMember:
    """One PostgreSQL member under Patroni: its database and REST endpoints as an operator reaches them."""

    name: str
    postgres: str
    patroni: str

    @classmethod
    def parse(cls, raw: Any, where: str) -> DatabaseMember:
        f = _Fields(raw, where)
        member = cls(f.get("name", str), f.get("postgres", str), f.get("patroni", str))
        _endpoint(member.postgres, f"{where}.postgres")
        _endpoint(member.patroni, f"{where}.patroni")
        return member

    @property
    def postgres_endpoint(self) -> tuple[str, int]:
        return _endpoint(self.postgres, f"member {self.name}.postgres")


@dataclass(frozen=True)
class Database:
    """The Patroni cluster: its members, the service's database and role, the pgBackRest stanza."""

    scope: str
    dbname: str
    user: str
    members: tuple[DatabaseMember, ...]
    stanza: str

    @classmethod
    def parse(cls, raw: Any, where: str) -> Database:
        f = _Fields(raw, where)
        members = tuple(DatabaseMember.parse(m, w) for m, w in f.records("members"))
        if not members:
            raise OutputsError(f"{where}.members: must name at least one member")
        return cls(f.get("scope", str, ""), f.get("dbname", str), f.get("user", str), members,
                   f.get("stanza", str, "main"))


@dataclass(frozen=True)
class Availability:
    """The availability target and the expected incidents a year per failure mode (the downtime model's input)."""

    target: float
    incidents_per_year: dict[str, float]

    @classmethod
    def parse(cls, raw: Any, where: str) -> Availability:
        f = _Fields(raw, where)
        return cls(float(f.get("target", (int, float))), dict(f.get("incidents_per_year", dict)))


@dataclass(frozen=True)
class RestoreProjection:
    """Production sizes the restore drill projects its measured RTO to."""

    data_gb: float
    wal_gb: float

    @classmethod
    def parse(cls, raw: Any, where: str) -> RestoreProjection:
        f = _Fields(raw, where)
        return cls(float(f.get("data_gb", (int, float))), float(f.get("wal_gb", (int, float))))


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
class StackOutputs:
    """One stack's outputs, parsed: every record typed, every lookup by name failing with the names that exist."""

    stack: str
    raw: Mapping[str, Any]
    platform: str
    primary_site: str
    uplinks: tuple[Uplink, ...]
    toxiproxy_api: str | None
    av_nodes: tuple[AvNode, ...]
    all_hosts: tuple[Host, ...]
    ssh_user: str
    backup_sites: tuple[BackupSite, ...]
    database: Database
    restore_projection: RestoreProjection
    availability: Availability
    evidence_verify_key_pem: str

    @classmethod
    def load(cls, stack: str) -> StackOutputs:
        path = outputs_path(stack)
        if not path.exists():
            raise OutputsMissingError(f"stack {stack!r} has no outputs at {path}; run `harness --stack {stack} up`")
        return cls.parse(stack, json.loads(path.read_text()))

    @classmethod
    def parse(cls, stack: str, raw: Mapping[str, Any]) -> StackOutputs:
        """Check every field the harness uses; the first problem raises OutputsError naming it."""
        f = _Fields(raw, f"outputs of stack {stack!r}")
        primary = _Fields(f.get("primary_site", dict), f"{f.where}.primary_site").get("name", str)
        return cls(
            stack=stack, raw=raw, platform=f.get("platform", str), primary_site=primary,
            uplinks=tuple(Uplink.parse(u, w) for u, w in f.records("uplinks")),
            toxiproxy_api=f.get("toxiproxy_api", str, None),
            av_nodes=tuple(AvNode.parse(n, w) for n, w in f.records("av_nodes")),
            all_hosts=tuple(Host.parse(h, w) for h, w in f.records("hosts")),
            ssh_user=f.get("ssh_user", str),
            backup_sites=tuple(BackupSite.parse(s, w) for s, w in f.records("backup_sites")),
            database=Database.parse(f.get("database", dict), f"{f.where}.database"),
            restore_projection=RestoreProjection.parse(f.get("restore_projection", dict),
                                                       f"{f.where}.restore_projection"),
            availability=Availability.parse(f.get("availability", dict), f"{f.where}.availability"),
            evidence_verify_key_pem=f.get("evidence_verify_key_pem", str, ""),
        )

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

"""The inventory of an ``existing`` stack: servers the harness did not create, declared in its config.

A hospital that built its servers by hand (or with other tools) still drills them: ``ihh:existing`` names
each host the topology has (the same names ``harness up`` would give: app-1, db-1, ...) with its SSH
address, host key and the endpoints the drills use, the operator's key and CA by path, and where each
secret is read at run time (an environment variable or a file, never the value in the config).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.config import NAME_RULE, ConfigError, _list, _object, _str

ROLES = ("app", "database", "dcs", "ingress", "av", "backup", "log", "wan")
"""``wan``: a WAN simulator (Toxiproxy) in front of the lines, as a staging lab may have; optional."""
SECRETS = {"dbAppPassword": "db-app", "patroniRestPassword": "patroni-rest", "turnSharedSecret": "turn-shared-secret",
           "serviceSessionKey": "service-session-key"}
"""Inventory key -> the stack's password name: what drills and checks sign in with."""
ENDPOINT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
HOST_KEY = re.compile(r"^ssh-ed25519 [A-Za-z0-9+/=]{40,}( .*)?$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class SecretSource:
    """Where a secret is read when the program runs: one of an environment variable or a file."""

    key: str
    env: str | None = None
    file: str | None = None

    def read(self) -> str:
        import os
        from pathlib import Path

        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"{self.key}.env", f"environment variable {self.env} is not set")
            return value
        path = Path(str(self.file)).expanduser()
        if not path.is_file():
            raise ConfigError(f"{self.key}.file", f"{path} is not a readable file")
        return path.read_text().strip()


@dataclass(frozen=True)
class InventoryHost:
    """One existing server: its name in the topology, and how the harness reaches it."""

    name: str
    roles: tuple[str, ...]
    site: str
    ssh: str
    host_key: str
    endpoints: Mapping[str, str]
    instance_id: str | None = None
    """Its ECS instance, where it is one: the power switch of a power-loss drill."""
    where: str = ""


@dataclass(frozen=True)
class Inventory:
    """Everything ``ihh:existing`` declares."""

    ssh_user: str
    ssh_key: SecretSource
    ca_cert: str
    secrets: Mapping[str, SecretSource]
    hosts: tuple[InventoryHost, ...]
    uplinks: Mapping[str, str]
    patroni_scope: str | None = None
    """The Patroni cluster's scope on those servers (default: ``ihh-<stack>``, as the harness names its own)."""

    def host(self, name: str) -> InventoryHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise ConfigError("existing.hosts", f"no host named {name!r}; the inventory has "
                                            f"{', '.join(h.name for h in self.hosts) or 'none'}")


def _endpoint(key: str, value: Any) -> str:
    return _str(key, value, ENDPOINT, "host:port")


def _host(key: str, raw: Any, sites: tuple[str, ...]) -> InventoryHost:
    raw = _object(key, raw, {"name", "roles", "site", "ssh", "hostKey", "endpoints", "instanceId"},
                  {"name", "roles", "site", "ssh", "hostKey"})
    roles = tuple(_str(f"{key}.roles[{i}]", r) for i, r in enumerate(_list(f"{key}.roles", raw["roles"])))
    if not roles:
        raise ConfigError(f"{key}.roles", "must name at least one role")
    for i, role in enumerate(roles):
        if role not in ROLES:
            raise ConfigError(f"{key}.roles[{i}]", f"unknown role {role!r}; one of {', '.join(ROLES)}")
    site = _str(f"{key}.site", raw["site"])
    if site not in sites:
        raise ConfigError(f"{key}.site", f"unknown site {site!r}; the config's sites are {', '.join(sites)}")
    endpoints = raw.get("endpoints", {})
    if not isinstance(endpoints, Mapping):
        raise ConfigError(f"{key}.endpoints", "must be a mapping of purpose to host:port")
    return InventoryHost(
        name=_str(f"{key}.name", raw["name"], NAME_RULE, "a lower-case name (letters, digits, dashes)"),
        roles=roles, site=site, ssh=_endpoint(f"{key}.ssh", raw["ssh"]),
        host_key=_str(f"{key}.hostKey", raw["hostKey"], HOST_KEY,
                      "the host's ed25519 public key ('ssh-ed25519 AAAA...', as ssh-keyscan prints it)"),
        endpoints={str(p): _endpoint(f"{key}.endpoints.{p}", v) for p, v in endpoints.items()},
        instance_id=None if raw.get("instanceId") is None else _str(f"{key}.instanceId", raw["instanceId"]),
        where=key,
    )


def _source(key: str, raw: Any) -> SecretSource:
    raw = _object(key, raw, {"env", "file"}, set())
    if len(raw) != 1:
        raise ConfigError(key, "must name exactly one of env (a variable) or file (a path); never the value itself")
    if "env" in raw:
        return SecretSource(key, env=_str(f"{key}.env", raw["env"], ENV_NAME, "an environment variable's name"))
    return SecretSource(key, file=_str(f"{key}.file", raw["file"]))


def parse_inventory(raw: Any, sites: tuple[str, ...], uplinks: tuple[str, ...]) -> Inventory:
    """``ihh:existing``, every field checked; a problem raises ConfigError naming it, before anything runs."""
    raw = _object("existing", raw, {"sshUser", "sshKey", "caCert", "secrets", "hosts", "uplinks", "patroniScope"},
                  {"sshUser", "sshKey", "caCert", "secrets", "hosts", "uplinks"})
    secrets = _object("existing.secrets", raw["secrets"], set(SECRETS), set(SECRETS))
    hosts = tuple(_host(f"existing.hosts[{i}]", h, sites) for i, h in enumerate(_list("existing.hosts", raw["hosts"])))
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise ConfigError(f"{host.where}.name", f"host {host.name!r} is declared twice")
        seen.add(host.name)
    lines = _object("existing.uplinks", raw["uplinks"], set(uplinks), set(uplinks))
    for name, url in lines.items():
        if not isinstance(url, str) or not url.startswith("https://"):
            raise ConfigError(f"existing.uplinks.{name}", f"must be the https:// URL patients use, got {url!r}")
    return Inventory(
        ssh_user=_str("existing.sshUser", raw["sshUser"]),
        ssh_key=_source("existing.sshKey", raw["sshKey"]),
        ca_cert=_str("existing.caCert", raw["caCert"]),
        secrets={k: _source(f"existing.secrets.{k}", v) for k, v in secrets.items()},
        hosts=hosts,
        uplinks=dict(lines),
        patroni_scope=None if raw.get("patroniScope") is None else _str("existing.patroniScope", raw["patroniScope"]),
    )


@dataclass(frozen=True)
class InventoryCredentials:
    """The key material and passwords of existing servers, read when the program runs: what the outputs carry
    for the drills in place of the ones the program would generate for hosts it creates."""

    ssh_private_key: Any
    ca_cert_pem: Any
    passwords: Mapping[str, Any]

    @classmethod
    def read(cls, inventory: Inventory) -> InventoryCredentials:
        from pathlib import Path

        import pulumi

        ca = Path(inventory.ca_cert).expanduser()
        if not ca.is_file() or "BEGIN CERTIFICATE" not in ca.read_text():
            raise ConfigError("existing.caCert", f"{ca} is not a readable PEM certificate (the CA the servers' TLS "
                                                 "certificates chain to)")
        return cls(
            ssh_private_key=pulumi.Output.secret(inventory.ssh_key.read() + "\n"),
            ca_cert_pem=pulumi.Output.from_input(ca.read_text()),
            passwords={SECRETS[k]: pulumi.Output.secret(source.read()) for k, source in inventory.secrets.items()},
        )

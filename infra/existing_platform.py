"""The ``existing`` platform: servers already there, declared in the stack's inventory; nothing is created.

The same program runs as on the other platforms, so the components name every host the topology needs
and the policy rules judge the declaration: each host becomes an ``ihh:existing:Host`` carrying the
compliance labels of its role, and the outputs contract points the drills at the declared addresses.
The configuration files the components render are not applied here: those servers are the
hospital's to configure, and the host checks over SSH say whether they match.
"""

from __future__ import annotations

import pulumi

from infra.config import ConfigError, Site, StackConfig, Uplink
from infra.inventory import Inventory
from infra.layout import Layout
from infra.log_host import LogSink
from infra.model import LABEL_PREFIX, Host, HostSpec, NetworkName, Port, labels_for
from infra.secrets import StackSecrets
from infra.supervision import SupervisionRoute, configured_route

TOXIPROXY_API_PORT = 8474
"""Where a WAN simulator's API listens: a purpose the inventory gives an address for (``toxiproxy-api``)."""


def expected_hosts(config: StackConfig) -> dict[str, str]:
    """Host name -> role, every host the topology of ``config`` has (the names ``harness up`` would give)."""
    layout = Layout.from_config(config)
    names = {layout.log: "log", **{h: "backup" for h in layout.backup.values()},
             **{h: "database" for h in layout.database}, **{h: "dcs" for h in layout.dcs},
             **{h: "app" for h in layout.app}, **{h: "ingress" for h in layout.ingress.values()},
             **{h: "av" for h in layout.av}}
    return names


def check_inventory(config: StackConfig, inventory: Inventory) -> None:
    """Every host of the topology declared, none the topology lacks, each with the role it has there."""
    expected = expected_hosts(config)
    declared = {h.name for h in inventory.hosts}
    missing = [name for name in expected if name not in declared]
    if missing:
        raise ConfigError("existing.hosts", f"lacks {', '.join(missing)}: the topology of this config has "
                                            f"{', '.join(expected)}")
    simulators = [h for h in inventory.hosts if h.roles == ("wan",)]
    if len(simulators) > 1:
        raise ConfigError(f"{simulators[1].where}.roles", "one WAN simulator at most stands in front of the lines")
    for host in inventory.hosts:
        if host in simulators:
            continue
        if host.name not in expected:
            raise ConfigError(f"{host.where}.name", f"{host.name!r} is not a host of this topology; it has "
                                                    f"{', '.join(expected)}")
        if host.roles != (expected[host.name],):
            raise ConfigError(f"{host.where}.roles", f"{host.name} is the topology's {expected[host.name]} host; "
                                                     f"declared {', '.join(host.roles)}")


class ExistingHost(pulumi.ComponentResource):
    """A server the harness did not create: its compliance labels as tags, for the policy rules."""

    def __init__(self, name: str, tags: dict[str, str], ssh: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("ihh:existing:Host", name, {"tags": tags, "ssh": ssh}, opts)
        self.register_outputs({})


class ExistingPlatform(pulumi.ComponentResource):
    """Hosts from the inventory, as the components ask for them by name."""

    def __init__(self, name: str, config: StackConfig, log_sink: LogSink | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:existing:ExistingPlatform", name, None, opts)
        if config.existing is None:
            raise ConfigError("existing", "is required on platform existing")
        check_inventory(config, config.existing)
        self.stack = config.stack
        self.inventory = config.existing
        self.patroni_scope = config.existing.patroni_scope
        self.log_sink = log_sink
        self.host_watchdog = {"driver": "default", "device": "/dev/watchdog"}
        self.register_outputs({})

    def host(self, spec: HostSpec, parent: pulumi.Resource, depends_on: list[pulumi.Resource]) -> Host:
        declared = self.inventory.host(spec.name)
        if declared.site != spec.site.name:
            raise ConfigError(f"{declared.where}.site", f"{spec.name} stands in site {spec.site.name} in this "
                                                        f"topology; declared {declared.site}")
        missing = [p.purpose for p in spec.ports if p.purpose not in declared.endpoints]
        if missing:
            raise ConfigError(f"{declared.where}.endpoints.{missing[0]}",
                              f"is required: drills reach {spec.name}'s {', '.join(missing)} there")
        resource = ExistingHost(spec.name, labels_for(spec, self.stack), declared.ssh,
                                pulumi.ResourceOptions(parent=parent, depends_on=depends_on))
        endpoints = {"ssh": declared.ssh, **declared.endpoints}
        return Host(
            name=spec.name, roles=spec.roles, site=spec.site, resource=resource, container=None,
            endpoints={purpose: pulumi.Output.from_input(address) for purpose, address in endpoints.items()},
            ssh_host_key=pulumi.Output.from_input(declared.host_key),
            instance_id=None if declared.instance_id is None else pulumi.Output.from_input(declared.instance_id),
        )

    def internal_address(self, host_name: str) -> str:
        return host_name

    def relay_address(self, spec: HostSpec) -> str | None:
        """An existing TURN node relays from whatever address it has; none is fixed from here."""
        return None

    def media_lines(self, av_hosts: list[Host], token: pulumi.Output[str]) -> dict[str, pulumi.Output[str]]:
        """Clients reach each TURN node directly; no simulator stands in front of a real line."""
        return {h.name: h.endpoints["turn-udp"] for h in av_hosts}

    def address_on(self, host_name: str, network: NetworkName) -> str:
        return host_name

    def supervision_route(self, config: StackConfig, ingress_names: dict[str, str],
                          secrets: StackSecrets) -> SupervisionRoute | None:
        """The platform's own URL from the stack config (none configured: no upload)."""
        return configured_route(config.supervision)

    def provider_lines(
        self, uplinks: tuple[Uplink, ...], ingress: dict[str, Host], ingress_port: int,
        parent: pulumi.Resource, site: Site,
    ) -> tuple[Host | None, dict[str, dict[str, pulumi.Output[str]]]]:
        """The providers' lines: the URL each one reaches; through the WAN simulator the inventory declares, if
        any (a Toxiproxy proxy per uplink, named after it), which the uplink drills then use."""
        urls = {u.name: {"url": pulumi.Output.from_input(self.inventory.uplinks[u.name])} for u in uplinks}
        simulator = next((h for h in self.inventory.hosts if h.roles == ("wan",)), None)
        if simulator is None:
            return None, urls
        spec = HostSpec(name=simulator.name, roles=("wan",), site=site, image="wan", ordinal=1, networks=("uplink",),
                        ports=(Port("toxiproxy-api", TOXIPROXY_API_PORT),),
                        labels={f"{LABEL_PREFIX}wan-proxies": ",".join(u.name for u in uplinks)})
        wan = self.host(spec, parent, [h.resource for h in ingress.values()])
        return wan, {name: {**line, "toxiproxy_proxy": pulumi.Output.from_input(name)} for name, line in urls.items()}

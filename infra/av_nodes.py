"""Audio/video nodes: coturn TURN servers using the TURN REST API shared secret.

The service mints short-lived credentials (username ``expiry:user``, password the
HMAC-SHA1 of it under the shared secret), so no long-term TURN password exists.
Peers on loopback and private ranges are denied, so a TURN node is no open relay
into the hospital's own networks; only the nodes' own relay addresses are allowed
where they are private (locally), so a call's two legs can reach each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi

from infra.config import Site
from infra.model import LABEL_PREFIX, File, Healthcheck, Host, HostSpec, Platform, Port

TURN_PORT = 3478
RELAY_PORTS = (49160, 49200)
"""coturn's relay range: one port per allocation, bounded so the firewall and the checks can name it."""
REALM = "ihh.local"
DENIED_PEERS = (
    "0.0.0.0-0.255.255.255", "10.0.0.0-10.255.255.255", "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255", "172.16.0.0-172.31.255.255",
    "192.168.0.0-192.168.255.255", "::", "::1", "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",  # IPv6 link-local
    "::ffff:0.0.0.0-::ffff:255.255.255.255",  # IPv4-mapped: the IPv4 ranges above, reached through IPv6
    "64:ff9b::-64:ff9b::ffff:ffff",  # NAT64's well-known prefix: IPv4 again
)
"""Peers no allocation may reach: loopback, private, link-local and carrier-grade NAT, in IPv4 and IPv6."""
SESSION_MAX_BPS = 512_000
"""Bytes/s one TURN session may relay each way (about 4 Mbit/s: a video consultation with headroom)."""


@dataclass
class AvNodesArgs:
    """How many TURN nodes, where, and the secret they share with the service."""

    platform: Platform
    site: Site
    nodes: tuple[str, ...]
    shared_secret: pulumi.Output[str]
    depends_on: list[pulumi.Resource]


def turnserver_config(name: str, secret: str, relay: str | None = None, relays: tuple[str, ...] = ()) -> str:
    """coturn's configuration: REST-API auth, no CLI, private and loopback peers denied but the TURN nodes'
    own ``relays`` (coturn checks allowed-peer-ip first); ``relay`` is this node's relay address, if fixed."""
    lines = [
        f"listening-port={TURN_PORT}",
        "fingerprint",
        "use-auth-secret",
        f"static-auth-secret={secret}",
        f"realm={REALM}",
        f"server-name={name}",
        f"min-port={RELAY_PORTS[0]}",
        f"max-port={RELAY_PORTS[1]}",
        "no-cli",
        "no-multicast-peers",
        "no-tlsv1",
        "no-tlsv1_1",
        "stale-nonce=600",
        "user-quota=12",
        f"max-bps={SESSION_MAX_BPS}",
        "no-tcp-relay",  # media is UDP; a TCP relay would turn the node into a generic TCP proxy
        "total-quota=1200",
        "log-file=stdout",
        "simple-log",
        *([f"relay-ip={relay}"] if relay else []),
        *[f"denied-peer-ip={r}" for r in DENIED_PEERS],
        *[f"allowed-peer-ip={r}" for r in relays],
    ]
    return "\n".join([*lines, ""])


class AvNodes(pulumi.ComponentResource):
    """At least two TURN nodes (GD-1.2.4), each reachable by clients on its own port."""

    hosts: list[Host]
    relays: dict[str, str | None]
    """Each node's relay address where the platform fixes it (the peers the nodes allow)."""

    def __init__(self, name: str, args: AvNodesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:av:AvNodes", name, None, opts)
        specs = [self._spec(args, node, i) for i, node in enumerate(args.nodes, start=1)]
        relays = {spec.name: args.platform.relay_address(spec) for spec in specs}
        allowed = tuple(r for r in relays.values() if r)
        self.hosts = [
            args.platform.host(
                dataclasses.replace(spec, files=(File(
                    "/etc/ihh/turnserver.conf",
                    args.shared_secret.apply(lambda secret, spec=spec: turnserver_config(
                        spec.name, secret, relays[spec.name], allowed)),
                    owner="turnserver",
                    mode="0600",
                ),)),
                parent=self,
                depends_on=args.depends_on,
            )
            for spec in specs
        ]
        self.relays = relays
        self.register_outputs({"nodes": [h.name for h in self.hosts]})

    @staticmethod
    def _spec(args: AvNodesArgs, node: str, ordinal: int) -> HostSpec:
        return HostSpec(
            name=node,
            roles=("av",),
            site=args.site,
            image="av",
            ordinal=ordinal,
            networks=("media",),
            ports=(Port("turn-udp", TURN_PORT, "udp"), Port("turn-tcp", TURN_PORT, "tcp")),
            healthcheck=Healthcheck(("ihh-probe", "tcp", "127.0.0.1", str(TURN_PORT))),
            labels={f"{LABEL_PREFIX}av.protocol": "turn", f"{LABEL_PREFIX}av.auth": "rest-shared-secret"},
        )

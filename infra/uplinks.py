"""Two uplinks from two providers: per uplink an HAProxy ingress over the app servers, and the line itself.

The line is the platform's: locally a Toxiproxy proxy shaped to the contracted
bandwidth, in production an EIP of that provider. Each ingress balances over
every app server with active health checks on ``/health/ready``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.config import Site, Uplink
from infra.model import LABEL_PREFIX, File, Healthcheck, Host, HostSpec, Platform

INGRESS_PORT = 80


@dataclass
class UplinksArgs:
    """The contracted uplinks, their ingress host names and the servers behind them."""

    platform: Platform
    site: Site
    uplinks: tuple[Uplink, ...]
    ingress_names: dict[str, str]
    app_servers: tuple[str, ...]
    service_port: int
    depends_on: list[pulumi.Resource]


def haproxy_config(uplink: Uplink, servers: tuple[str, ...], service_port: int) -> str:
    """HAProxy for one uplink: health-checked round robin, re-resolving servers through Docker's DNS."""
    server_lines = [
        f"    server {s} {s}:{service_port} check resolvers internal init-addr last,libc,none" for s in servers
    ]
    return "\n".join(
        [
            "global",
            "    log stdout format raw local0 info",
            "    maxconn 4000",
            "    stats socket /run/haproxy.sock mode 600 level admin",
            "",
            "resolvers internal",
            "    parse-resolv-conf",
            "    hold valid 2s",
            "",
            "defaults",
            "    mode http",
            "    log global",
            "    option httplog",
            # A killed app server leaves no RST behind: fail the connect fast and retry each time on another
            # server (drill: app-server-kill). Retrying is safe for writes: they carry idempotency keys.
            "    option redispatch 1",
            "    retries 3",
            "    retry-on conn-failure empty-response",
            "    timeout connect 500ms",
            "    timeout client 30s",
            "    timeout server 30s",
            "    timeout check 1s",
            "",
            "frontend www",
            f"    bind :{INGRESS_PORT}",
            f"    http-response set-header X-Uplink {uplink.name}",
            "    default_backend app",
            "",
            "backend app",
            "    balance roundrobin",
            "    option httpchk GET /health/ready",
            "    http-check expect status 200",
            "    default-server inter 500ms fastinter 250ms fall 2 rise 2 on-marked-down shutdown-sessions",
            *server_lines,
            "",
        ]
    )


class Uplinks(pulumi.ComponentResource):
    """Ingress per uplink, then the provider lines in front of them."""

    ingress: dict[str, Host]
    lines: dict[str, dict[str, pulumi.Output[str]]]
    line_host: Host | None

    def __init__(self, name: str, args: UplinksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:network:Uplinks", name, None, opts)
        self.ingress = {}
        for i, uplink in enumerate(args.uplinks, start=1):
            self.ingress[uplink.name] = args.platform.host(
                HostSpec(
                    name=args.ingress_names[uplink.name],
                    roles=("ingress",),
                    site=args.site,
                    image="ingress",
                    ordinal=i,
                    networks=("uplink", "app"),
                    files=(
                        File("/etc/haproxy/haproxy.cfg",
                             haproxy_config(uplink, args.app_servers, args.service_port)),
                    ),
                    healthcheck=Healthcheck(("ihh-probe", "tcp", "127.0.0.1", str(INGRESS_PORT))),
                    labels={
                        f"{LABEL_PREFIX}uplink.name": uplink.name,
                        f"{LABEL_PREFIX}uplink.provider": uplink.provider,
                        f"{LABEL_PREFIX}uplink.bandwidth-mbps": str(uplink.bandwidth_mbps),
                    },
                ),
                parent=self,
                depends_on=args.depends_on,
            )
        self.line_host, self.lines = args.platform.provider_lines(
            args.uplinks, self.ingress, INGRESS_PORT, self, args.site
        )
        self.register_outputs({"uplinks": [u.name for u in args.uplinks]})

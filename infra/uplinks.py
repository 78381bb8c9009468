"""Two uplinks from two providers: per uplink an HAProxy ingress over the app servers, and the line itself.

The line is the platform's: locally a Toxiproxy proxy shaped to the contracted
bandwidth, in production an EIP of that provider. Each ingress terminates TLS (1.2 or
newer, a certificate the stack's CA issues for it) on 443, answers plain HTTP on 80 only
with a redirect, and balances over every app server with active health checks on
``/health/ready``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from infra.config import Site, Uplink
from infra.model import LABEL_PREFIX, File, Healthcheck, Host, HostSpec, Platform
from infra.secrets import StackSecrets
from infra.supervision import EGRESS_PORT

INGRESS_PORT = 443
"""Where the provider lines deliver patients' traffic: HTTPS."""
PLAIN_HTTP_PORT = 80
"""Answered only with a redirect to HTTPS."""
CERT_FILE = "/etc/haproxy/tls/ingress.pem"


@dataclass
class UplinksArgs:
    """The contracted uplinks, their ingress host names and the servers behind them."""

    platform: Platform
    site: Site
    uplinks: tuple[Uplink, ...]
    ingress_names: dict[str, str]
    app_servers: tuple[str, ...]
    service_port: int
    secrets: StackSecrets
    depends_on: list[pulumi.Resource]
    egress: dict[str, str] = field(default_factory=dict)
    """Uplink name -> host:port where its ingress relays the app servers' uploads to the supervision platform
    (over the line, locally); none: the app servers reach the platform as they reach the internet."""


def egress_lines(target: str | None) -> list[str]:
    """The app servers' way out over this line to the supervision platform: TCP, so TLS stays end to end."""
    if target is None:
        return []
    return [
        "listen supervision-egress",
        "    mode tcp",
        "    option tcplog",
        f"    bind :{EGRESS_PORT}",
        "    timeout connect 2s",
        "    timeout client 120s",
        "    timeout server 120s",
        f"    server platform {target} resolvers internal init-addr last,libc,none",
        "",
    ]


def haproxy_config(uplink: Uplink, servers: tuple[str, ...], service_port: int,
                   egress_target: str | None = None) -> str:
    """HAProxy for one uplink: TLS on 443, redirect on 80, health-checked round robin over the app servers,
    and the relay of uploads to the supervision platform where the line carries them."""
    server_lines = [
        f"    server {s} {s}:{service_port} check resolvers internal init-addr last,libc,none" for s in servers
    ]
    return "\n".join(
        [
            "global",
            "    log stdout format raw local0 info",
            "    maxconn 4000",
            "    stats socket /run/haproxy.sock mode 600 level admin",
            "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
            "    ssl-default-bind-ciphers ECDHE+AESGCM:ECDHE+CHACHA20",
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
            f"    bind :{PLAIN_HTTP_PORT}",
            f"    bind :{INGRESS_PORT} ssl crt {CERT_FILE} alpn http/1.1",
            "    http-request redirect scheme https code 301 unless { ssl_fc }",
            "    http-response set-header Strict-Transport-Security max-age=31536000",
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
            *egress_lines(egress_target),
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
            name = args.ingress_names[uplink.name]
            tls = args.secrets.host_certificate(name)
            bundle = pulumi.Output.secret(pulumi.Output.all(tls.cert_pem, tls.key_pem).apply(
                lambda parts: parts[0].rstrip() + "\n" + parts[1]))  # HAProxy reads the chain and key from one file
            self.ingress[uplink.name] = args.platform.host(
                HostSpec(
                    name=name,
                    roles=("ingress",),
                    site=args.site,
                    image="ingress",
                    ordinal=i,
                    networks=("uplink", "app"),
                    files=(
                        File("/etc/haproxy/haproxy.cfg",
                             haproxy_config(uplink, args.app_servers, args.service_port,
                                            args.egress.get(uplink.name))),
                        File(CERT_FILE, bundle, mode="0600"),
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

"""The application tier: at least two service hosts, each reaching the writable primary over TLS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi

from infra.config import Site
from infra.model import LABEL_PREFIX, File, Healthcheck, Host, HostSpec, Platform
from infra.secrets import StackSecrets
from infra.supervision import SupervisionRoute

SERVICE_PORT = 8080
CA_PATH = "/etc/ihh/tls/ca.crt"
TURN_SECRET_PATH = "/etc/ihh/secrets/turn-shared-secret"  # noqa: S105 - a path, not the secret
SESSION_KEY_PATH = "/etc/ihh/secrets/service-session-key"


@dataclass
class AppTierArgs:
    """What the app tier needs: where it runs and how it reaches the database."""

    platform: Platform
    site: Site
    servers: tuple[str, ...]
    database_hosts: tuple[str, ...]
    av_nodes: list[Host]
    """The A/V nodes whose client-facing TURN addresses the service hands out with credentials."""
    av_udp: dict[str, pulumi.Output[str]]
    """Where clients send each node's UDP (the platform's media line, or the node itself)."""
    secrets: StackSecrets
    depends_on: list[pulumi.Resource]
    replacement_image: str | None = None
    supervision: SupervisionRoute | None = None
    """Where the forwarder uploads the outbox (GD-3.2.1); None: the stack configures no platform."""


def service_config(args: AppTierArgs, av_names: list[str], av_endpoints: list[list[str]]) -> str:
    """The service's own config file: database hosts, pool, TURN nodes; secrets only as file paths."""
    return json.dumps(
        {
            "listen_port": SERVICE_PORT,
            "pool_size": 8,
            "db": {
                "hosts": [args.platform.internal_address(h) for h in args.database_hosts],
                "port": 5432,
                "dbname": "ihh",
                "user": "ihh_app",
                "password_file": "/etc/ihh/secrets/db-app-password",
                "sslrootcert": CA_PATH,
            },
            "av_nodes": [{"name": n, "udp": udp, "tcp": tcp}
                         for n, (udp, tcp) in zip(av_names, av_endpoints, strict=True)],
            "turn_secret_file": TURN_SECRET_PATH,
            "session_key_file": SESSION_KEY_PATH,
            "supervision": args.supervision.service_config() if args.supervision else None,
        },
        indent=2,
    )


def _supervision_token(route: SupervisionRoute | None) -> tuple[File, ...]:
    """The platform's upload token, where the stack issues it (the local simulator's); on servers operations
    place the token the platform issued at the configured path."""
    if route is None or route.token is None:
        return ()
    return (File(route.token_file, route.token, owner="ihh-app", mode="0400"),)


class AppTier(pulumi.ComponentResource):
    """Service hosts behind the uplinks' ingresses."""

    hosts: list[Host]
    service_port: int

    def __init__(self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:app:AppTier", name, None, opts)
        self.service_port = SERVICE_PORT
        av_endpoints = pulumi.Output.all(
            *[pulumi.Output.all(args.av_udp[h.name], h.endpoints["turn-tcp"]) for h in args.av_nodes]
        )
        service = av_endpoints.apply(lambda eps: service_config(args, [h.name for h in args.av_nodes], eps))
        self.hosts = [
            args.platform.host(
                HostSpec(
                    name=server,
                    roles=("app",),
                    site=args.site,
                    image="app",
                    ordinal=i,
                    networks=("app", "sql"),
                    files=(
                        File("/etc/ihh/app/service.json", service),
                        File(CA_PATH, args.secrets.ca_cert_pem),
                        File("/etc/ihh/secrets/db-app-password", args.secrets.passwords["db-app"],
                             owner="ihh-app", mode="0400"),
                        File(TURN_SECRET_PATH, args.secrets.passwords["turn-shared-secret"],
                             owner="ihh-app", mode="0400"),
                        File(SESSION_KEY_PATH, args.secrets.passwords["service-session-key"],
                             owner="ihh-app", mode="0400"),
                        *_supervision_token(args.supervision),
                    ),
                    replacement_image=args.replacement_image,
                    labels=({f"{LABEL_PREFIX}supervision": urlsplit(args.supervision.endpoints[0]).hostname or "?"}
                            if args.supervision else {}),
                    healthcheck=Healthcheck(("ihh-probe", "http", f"http://127.0.0.1:{SERVICE_PORT}/health/live")),
                ),
                parent=self,
                depends_on=args.depends_on,
            )
            for i, server in enumerate(args.servers, start=1)
        ]
        self.register_outputs({"servers": [h.name for h in self.hosts]})

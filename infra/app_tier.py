"""The application tier: at least two service hosts, each reaching the writable primary over TLS."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from infra.config import Site
from infra.model import File, Healthcheck, Host, HostSpec, Platform
from infra.secrets import StackSecrets

SERVICE_PORT = 8080
CA_PATH = "/etc/ihh/tls/ca.crt"


@dataclass
class AppTierArgs:
    """What the app tier needs: where it runs and how it reaches the database."""

    platform: Platform
    site: Site
    servers: tuple[str, ...]
    database_hosts: tuple[str, ...]
    secrets: StackSecrets
    depends_on: list[pulumi.Resource]


class AppTier(pulumi.ComponentResource):
    """Service hosts behind the uplinks' ingresses."""

    hosts: list[Host]
    service_port: int

    def __init__(self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:app:AppTier", name, None, opts)
        self.service_port = SERVICE_PORT
        service = json.dumps(
            {
                "listen_port": SERVICE_PORT,
                "db": {
                    "hosts": [args.platform.internal_address(h) for h in args.database_hosts],
                    "port": 5432,
                    "dbname": "ihh",
                    "user": "ihh_app",
                    "password_file": "/etc/ihh/secrets/db-app-password",
                    "sslrootcert": CA_PATH,
                },
            },
            indent=2,
        )
        self.hosts = [
            args.platform.host(
                HostSpec(
                    name=server,
                    roles=("app",),
                    site=args.site,
                    image="app",
                    ordinal=i,
                    networks=("app", "db"),
                    files=(
                        File("/etc/ihh/app/service.json", service),
                        File(CA_PATH, args.secrets.ca_cert_pem),
                        File("/etc/ihh/secrets/db-app-password", args.secrets.passwords["db-app"],
                             owner="ihh-app", mode="0400"),
                    ),
                    healthcheck=Healthcheck(("ihh-probe", "http", f"http://127.0.0.1:{SERVICE_PORT}/health/live")),
                ),
                parent=self,
                depends_on=args.depends_on,
            )
            for i, server in enumerate(args.servers, start=1)
        ]
        self.register_outputs({"servers": [h.name for h in self.hosts]})

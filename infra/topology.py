"""The whole internet-hospital topology, composed from one component per piece.

``build_topology`` is the single description of the topology: the Pulumi program
calls it, and so does the offline executor under Pulumi's mock runtime.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pulumi

from infra.app_tier import AppTier, AppTierArgs
from infra.av_nodes import TURN_PORT, AvNodes, AvNodesArgs
from infra.backup_sites import BackupSites, BackupSitesArgs
from infra.config import StackConfig
from infra.database import Database, DatabaseArgs
from infra.inventory import InventoryCredentials
from infra.layout import Layout
from infra.log_host import LOG_DIR, LogHost, LogHostArgs, LogSink
from infra.model import OPS_USER, ROLE_SERVICES, Host, Platform
from infra.secrets import StackSecrets
from infra.supervision import SupervisionUpload, SupervisionUploadArgs, egress_proxy
from infra.uplinks import Uplinks, UplinksArgs


class Topology(pulumi.ComponentResource):
    """App tier, database, backup sites, uplinks and A/V nodes on one platform."""

    def __init__(
        self,
        name: str,
        config: StackConfig,
        platform: Platform,
        secrets: StackSecrets,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ihh:topology:Topology", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        layout = Layout.from_config(config)
        self.config = config
        self.secrets = secrets
        self.credentials: StackSecrets | InventoryCredentials = secrets
        """What the outputs hand the drills: generated for hosts the program creates, read for existing ones."""
        self.logs = LogHost(
            "logs",
            LogHostArgs(platform=platform, site=config.primary_site, name=layout.log,
                        retention_days=config.log_retention_days, secrets=secrets, depends_on=[]),
            opts=child,
        )
        self.backups = BackupSites(
            "backup",
            BackupSitesArgs(
                platform=platform, sites=config.backup_sites, host_names=layout.backup,
                database_hosts=layout.database, retention_days=config.backup_retention_days,
                schedule=config.backup_schedule, secrets=secrets, depends_on=[],
            ),
            opts=child,
        )
        self.database = Database(
            "database",
            DatabaseArgs(
                platform=platform, site=config.primary_site, config=config.database,
                database_hosts=layout.database, dcs_hosts=layout.dcs,
                repositories=self.backups.repositories, secrets=secrets,
                depends_on=[h.resource for h in self.backups.hosts],
            ),
            opts=child,
        )
        self.av = AvNodes(
            "av",
            AvNodesArgs(
                platform=platform, site=config.primary_site, nodes=layout.av,
                shared_secret=secrets.passwords["turn-shared-secret"], depends_on=[],
            ),
            opts=child,
        )
        self.av_udp = platform.media_lines(self.av.hosts, secrets.passwords["media-line-token"])
        self.supervision = SupervisionUpload(
            "supervision",
            SupervisionUploadArgs(platform=platform, config=config, ingress_names=layout.ingress, secrets=secrets),
            opts=child,
        )
        self.app = AppTier(
            "app",
            AppTierArgs(
                platform=platform, site=config.primary_site, servers=layout.app,
                database_hosts=layout.database, av_nodes=self.av.hosts, av_udp=self.av_udp, secrets=secrets,
                depends_on=[h.resource for h in self.database.members],
                replacement_image=config.service_image, supervision=self.supervision.route,
            ),
            opts=child,
        )
        self.uplinks = Uplinks(
            "uplinks",
            UplinksArgs(
                platform=platform, site=config.primary_site, uplinks=config.uplinks,
                ingress_names=layout.ingress, app_servers=layout.app, service_port=self.app.service_port,
                secrets=secrets, depends_on=[h.resource for h in self.app.hosts],
                egress=self.supervision.route.egress if self.supervision.route else {},
            ),
            opts=child,
        )
        self.register_outputs({})

    def all_hosts(self) -> list[Host]:
        """Every host of the stack, line simulators included."""
        hosts = [self.logs.host, *self.backups.hosts, *self.database.dcs, *self.database.members, *self.app.hosts,
                 *self.uplinks.ingress.values(), *self.av.hosts]
        if self.uplinks.line_host is not None:
            hosts.append(self.uplinks.line_host)
        return hosts

    def outputs(self) -> dict[str, Any]:
        """The outputs contract: drills and checks reach the stack only through these."""
        uplinks = [
            {
                "name": u.name,
                "provider": u.provider,
                "bandwidth_mbps": u.bandwidth_mbps,
                "url": self.uplinks.lines[u.name]["url"],
                "toxiproxy_proxy": self.uplinks.lines[u.name].get("toxiproxy_proxy"),
                "ingress_host": self.uplinks.ingress[u.name].name,
            }
            for u in self.config.uplinks
        ]
        line_host = self.uplinks.line_host
        return {
            "stack": self.config.stack,
            "platform": self.config.platform,
            "primary_site": {"name": self.config.primary_site.name, "region": self.config.primary_site.region},
            "uplinks": uplinks,
            "toxiproxy_api": None if line_host is None
            else line_host.endpoints["toxiproxy-api"].apply(lambda ep: f"http://{ep}"),
            "media_line_api": None if line_host is None or "media-line-api" not in line_host.endpoints
            else line_host.endpoints["media-line-api"].apply(lambda ep: f"http://{ep}"),
            "supervision": self._supervision_outputs(),
            "av_nodes": [
                {"name": h.name, "turn": self.av_udp[h.name], "turn_tcp": h.endpoints["turn-tcp"],
                 "turn_direct": h.endpoints["turn-udp"],
                 "realm": "ihh.local", "internal_port": TURN_PORT}
                for h in self.av.hosts
            ],
            "hosts": [
                {"name": h.name, "roles": list(h.roles), "site": h.site.name, "region": h.site.region,
                 "ssh": h.endpoints["ssh"], "ssh_host_key": h.ssh_host_key, "container": h.container,
                 "instance_id": h.instance_id,
                 "services": list({s.name: asdict(s) for role in h.roles for s in ROLE_SERVICES[role]}.values())}
                for h in self.all_hosts()
            ],
            "ssh_user": OPS_USER if self.config.existing is None else self.config.existing.ssh_user,
            "log_host": {"name": self.logs.host.name, "retention_days": self.logs.retention_days,
                         "directory": LOG_DIR},
            "backup_sites": [
                {"name": s.name, "region": s.region, "host": h.name, "repository": r.index,
                 "retention_days": self.config.backup_retention_days}
                for s, h, r in zip(self.config.backup_sites, self.backups.hosts, self.backups.repositories,
                                   strict=True)
            ],
            "database": {
                "scope": self.database.scope,
                "dbname": "ihh",
                "user": "ihh_app",
                "members": [
                    {"name": m.name, "postgres": m.endpoints["postgres"], "patroni": m.endpoints["patroni"]}
                    for m in self.database.members
                ],
                "stanza": "main",
            },
            "restore_projection": {"data_gb": self.config.restore_projection.data_gb,
                                   "wal_gb": self.config.restore_projection.wal_gb},
            "availability": {"target": 0.999, "incidents_per_year": dict(self.config.incidents_per_year)},
            "backup_schedule": asdict(self.config.backup_schedule),
            "ca_cert_pem": self.credentials.ca_cert_pem,
            "ssh_private_key": self.credentials.ssh_private_key,
            "secrets": {
                "db_app_password": self.credentials.passwords["db-app"],
                "turn_shared_secret": self.credentials.passwords["turn-shared-secret"],
                "patroni_rest_password": self.credentials.passwords["patroni-rest"],
                "service_session_key": self.credentials.passwords["service-session-key"],
                "media_line_token": self.secrets.passwords["media-line-token"],
                "supervision_control_token": self.secrets.passwords["supervision-control-token"],
            },
        }

    def _supervision_outputs(self) -> dict[str, Any] | None:
        """The upload route to the supervision platform, and the simulator's control API where there is one."""
        route, line_host = self.supervision.route, self.uplinks.line_host
        if route is None:
            return None
        control = (line_host.endpoints["supervision-control"].apply(lambda ep: f"http://{ep}")
                   if line_host is not None and "supervision-control" in line_host.endpoints else None)
        return {"endpoints": list(route.endpoints), "lag_target_s": route.lag_target_s, "control_api": control,
                "egress_proxies": [egress_proxy(u) for u in self.config.uplinks if u.name in route.egress]}


def build_topology(config: StackConfig) -> Topology:
    """Declare every resource of the stack for its platform."""
    secrets = StackSecrets("secrets")
    platform = _platform(config, secrets)
    topology = Topology("topology", config, platform, secrets)
    if config.existing is not None:
        topology.credentials = InventoryCredentials.read(config.existing)
    return topology


def _platform(config: StackConfig, secrets: StackSecrets) -> Platform:
    sink = LogSink(host=Layout.from_config(config).log, ca_cert_pem=secrets.ca_cert_pem,
                   sender_certificate=lambda host: secrets.client_certificate(host, "log-sender"))
    if config.platform == "docker":
        from infra.docker_platform import DockerPlatform

        return DockerPlatform("local", config.stack, config.local, secrets.ssh_public_key, sink)
    if config.platform == "existing":
        from infra.existing_platform import ExistingPlatform

        return ExistingPlatform("existing", config, sink)
    from infra.alicloud_platform import AlicloudPlatform

    return AlicloudPlatform("prod", config, secrets.ssh_public_key, sink)

"""The production platform: Alibaba Cloud ECS hosts in mainland regions.

Hosts of the primary site spread over the configured zones of one region; each
backup site is a host in a region of its own, joined to the primary VPC through a
Cloud Enterprise Network. Each role is a security group that drops everything by
default (``inner_access_policy="Drop"``) and admits, by port, only the roles that must
talk to it: the app tier reaches PostgreSQL's port and nothing else of the database tier,
only database hosts reach etcd and Patroni's REST API. Each uplink is
an EIP of that provider's single-line ISP bound to its ingress host. Files reach a
host through cloud-init, except owner-only files (keys, passwords): those are KMS
secrets, which the host fetches at boot with its own RAM role, so no secret travels in
user data. Disks are encrypted with a KMS key of the stack. Compliance labels become tags,
so the policy rules judge this graph as they judge the local one.
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import json
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_alicloud as alicloud
import yaml
from pulumi_alicloud import cen, ecs, kms, pvtz, ram, vpc

from infra.app_tier import SERVICE_PORT
from infra.av_nodes import RELAY_PORTS
from infra.config import Site, StackConfig, Uplink
from infra.database import ETCD_CLIENT_PORT, ETCD_PEER_PORT, PATRONI_PORT, PGBACKREST_TLS_PORT, POSTGRES_PORT
from infra.drill_access import drill_access_files
from infra.images import ROLE_PACKAGES
from infra.log_host import LOG_PORT, LogSink, shipping_files
from infra.model import AUTHORIZED_KEYS, DISK_MARK, LABEL_PREFIX, Host, HostSpec, NetworkName, labels_for
from infra.secrets import StackSecrets
from infra.supervision import SupervisionRoute, configured_route

ISP_BY_PROVIDER = {
    "china telecom": "ChinaTelecom",
    "china unicom": "ChinaUnicom",
    "china mobile": "ChinaMobile",
}
"""Single-line EIP line types; two providers means two different lines, not two BGP addresses."""
PUBLIC_PORTS: dict[str, list[tuple[str, str]]] = {
    "ingress": [("tcp", "80/80"), ("tcp", "443/443")],
    "av": [("udp", "3478/3478"), ("tcp", "3478/3478"), ("udp", f"{RELAY_PORTS[0]}/{RELAY_PORTS[1]}")],
}
"""Open to the internet, by role: patients' HTTPS, and TURN with its relay range."""
ADMITTED: dict[str, list[tuple[str, int]]] = {
    "app": [("ingress", SERVICE_PORT)],
    "database": [("app", POSTGRES_PORT), ("database", POSTGRES_PORT), ("database", PATRONI_PORT),
                 ("backup", PGBACKREST_TLS_PORT)],
    "dcs": [("database", ETCD_CLIENT_PORT), ("dcs", ETCD_CLIENT_PORT), ("dcs", ETCD_PEER_PORT)],
    "backup": [("database", PGBACKREST_TLS_PORT)],
    "log": [(role, LOG_PORT) for role in ("ingress", "app", "database", "dcs", "av", "backup")],
}
"""Role -> (source role, TCP port) it admits: what must talk, and nothing else. Sources in another region
(backup copies) are admitted by that region's CIDR, since a security group reference stays in its VPC."""
INTERNAL_ZONE = "ihh.internal"
DATA_DISK_MIN_GB = 20
"""The smallest ESSD data disk Alibaba Cloud sells."""


class AlicloudPlatform(pulumi.ComponentResource):
    """VPCs, segments as security groups, and a factory of ECS hosts."""

    def __init__(
        self,
        name: str,
        config: StackConfig,
        ssh_public_key: pulumi.Output[str],
        log_sink: LogSink | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ihh:prod:AlicloudPlatform", name, None, opts)
        self.log_sink = log_sink
        if not config.prod.zones:
            raise ValueError("config ihh:prod.zones: the prod stack needs at least one zone of the primary region")
        self.stack = config.stack
        self.host_watchdog = {"driver": "default", "device": "/dev/watchdog"}
        self.config = config
        self._providers: dict[str, alicloud.Provider] = {}
        self._vpcs: dict[str, vpc.Network] = {}
        self._switches: dict[tuple[str, int], vpc.Switch] = {}
        self._groups: dict[tuple[str, str], ecs.SecurityGroup] = {}
        self._key_pairs: dict[str, ecs.EcsKeyPair] = {}
        self._kms_keys: dict[str, kms.Key] = {}
        self._ssh_public_key = ssh_public_key
        self._cidrs = self._region_cidrs()
        self.cen = cen.Instance("cen", cen_instance_name=f"ihh-{self.stack}", opts=pulumi.ResourceOptions(parent=self))
        self.zone = pvtz.Zone("internal-zone", zone_name=INTERNAL_ZONE, opts=self._in(config.primary_site.region))
        for region in self._cidrs:
            self._vpc(region)
        pvtz.ZoneAttachment(
            "internal-zone-vpcs",
            zone_id=self.zone.id,
            vpcs=[pvtz.ZoneAttachmentVpcArgs(vpc_id=v.id, region_id=r) for r, v in self._vpcs.items()],
            opts=self._in(config.primary_site.region),
        )
        self.register_outputs({"vpcs": {r: v.id for r, v in self._vpcs.items()}})

    def _region_cidrs(self) -> dict[str, ipaddress.IPv4Network]:
        """A distinct /16 per region (CEN refuses overlapping VPCs): the primary's, then the next ones."""
        base = ipaddress.ip_network(self.config.prod.vpc_cidr)
        regions = [self.config.primary_site.region, *[s.region for s in self.config.backup_sites]]
        cidrs: dict[str, ipaddress.IPv4Network] = {}
        for region in regions:
            if region not in cidrs:
                offset = len(cidrs) * base.num_addresses
                cidrs[region] = ipaddress.ip_network(f"{base.network_address + offset}/{base.prefixlen}")
        return cidrs

    def _in(self, region: str, parent: pulumi.Resource | None = None) -> pulumi.ResourceOptions:
        if region not in self._providers:
            self._providers[region] = alicloud.Provider(
                f"provider-{region}", region=region, opts=pulumi.ResourceOptions(parent=self)
            )
        return pulumi.ResourceOptions(parent=parent or self, provider=self._providers[region])

    def _vpc(self, region: str) -> vpc.Network:
        if region not in self._vpcs:
            network = vpc.Network(f"vpc-{region}", vpc_name=f"ihh-{self.stack}-{region}",
                                  cidr_block=str(self._cidrs[region]), opts=self._in(region))
            cen.InstanceAttachment(
                f"cen-{region}", instance_id=self.cen.id, child_instance_id=network.id,
                child_instance_type="VPC", child_instance_region_id=region, opts=self._in(region),
            )
            self._vpcs[region] = network
        return self._vpcs[region]

    def _switch(self, site: Site, ordinal: int) -> vpc.Switch:
        """Primary-site hosts alternate over the configured zones; a backup site uses its region's first zone."""
        zones = self.config.prod.zones if site.region == self.config.primary_site.region else (f"{site.region}-a",)
        index = (ordinal - 1) % len(zones)
        key = (site.region, index)
        if key not in self._switches:
            subnet = list(self._cidrs[site.region].subnets(new_prefix=24))[index]
            self._switches[key] = vpc.Switch(
                f"vswitch-{site.region}-{index}", vpc_id=self._vpc(site.region).id, cidr_block=str(subnet),
                zone_id=zones[index], vswitch_name=f"ihh-{self.stack}-{zones[index]}", opts=self._in(site.region),
            )
        return self._switches[key]

    def _group(self, region: str, segment: str) -> ecs.SecurityGroup:
        """A role's security group: nothing admitted by default, then its public ports and its admitted peers."""
        key = (region, segment)
        if key in self._groups:
            return self._groups[key]
        group = ecs.SecurityGroup(
            f"sg-{region}-{segment}", vpc_id=self._vpc(region).id,
            security_group_name=f"ihh-{self.stack}-{segment}", inner_access_policy="Drop",
            tags={f"{LABEL_PREFIX}segment": segment, f"{LABEL_PREFIX}stack": self.stack},
            opts=self._in(region),
        )
        self._groups[key] = group
        for protocol, ports in PUBLIC_PORTS.get(segment, []):
            self._rule(region, f"{segment}-{protocol}-{ports.split('/')[0]}", group, protocol, ports,
                       cidr="0.0.0.0/0")
        for source, port in ADMITTED.get(segment, []):
            self._admit(region, segment, group, source, port)
        if segment == "mgmt":
            operators = str(self._cidrs[self.config.primary_site.region])
            self._rule(region, "mgmt-ssh", group, "tcp", "22/22", cidr=operators)
        return group

    def _admit(self, region: str, segment: str, group: ecs.SecurityGroup, source: str, port: int) -> None:
        """``source`` hosts reach ``port``: by their group within the region, by CIDR from the other regions."""
        source_regions = self._regions_of(source)
        if region in source_regions:
            source_group = self._group(region, source)
            self._rule(region, f"{segment}-from-{source}-{port}", group, "tcp", f"{port}/{port}",
                       source_group=source_group)
        for other in sorted(source_regions - {region}):
            self._rule(region, f"{segment}-from-{source}-{other}-{port}", group, "tcp", f"{port}/{port}",
                       cidr=str(self._cidrs[other]))

    def _regions_of(self, role: str) -> set[str]:
        if role == "backup":
            return {s.region for s in self.config.backup_sites}
        return {self.config.primary_site.region}

    def _rule(self, region: str, name: str, group: ecs.SecurityGroup, protocol: str, ports: str,
              cidr: str | None = None, source_group: ecs.SecurityGroup | None = None) -> None:
        ecs.SecurityGroupRule(
            f"sg-{region}-{name}", security_group_id=group.id, type="ingress", ip_protocol=protocol,
            port_range=ports, cidr_ip=cidr, source_security_group_id=source_group.id if source_group else None,
            nic_type="intranet", policy="accept", opts=self._in(region),
        )

    def _key_pair(self, region: str) -> ecs.EcsKeyPair:
        if region not in self._key_pairs:
            self._key_pairs[region] = ecs.EcsKeyPair(
                f"ops-key-{region}", key_pair_name=f"ihh-{self.stack}-ops", public_key=self._ssh_public_key,
                opts=self._in(region),
            )
        return self._key_pairs[region]

    def internal_address(self, host_name: str) -> str:
        return host_name

    def relay_address(self, spec: HostSpec) -> str | None:
        """Relays there use the address the cloud gives the instance; none is fixed before it exists."""
        return None

    def media_lines(self, av_hosts: list[Host], token: pulumi.Output[str]) -> dict[str, pulumi.Output[str]]:
        """Clients reach each TURN node directly; no simulator stands in front of a real line."""
        return {h.name: h.endpoints["turn-udp"] for h in av_hosts}

    def address_on(self, host_name: str, network: NetworkName) -> str:
        return host_name  # one address per host; security groups, not networks, separate the tiers

    def _kms_key(self, region: str) -> kms.Key:
        """The stack's key in ``region``: it encrypts the hosts' disks and the secrets they fetch."""
        if region not in self._kms_keys:
            self._kms_keys[region] = kms.Key(
                f"kms-{region}", description=f"ihh {self.stack}: disks and secrets", key_usage="ENCRYPT/DECRYPT",
                protection_level="SOFTWARE", pending_window_in_days=7, tags={f"{LABEL_PREFIX}stack": self.stack},
                opts=self._in(region),
            )
        return self._kms_keys[region]

    def _secret_files(self, spec: HostSpec, parent: pulumi.Resource) -> tuple[list[SecretFile], ram.Role | None]:
        """Owner-only files as KMS secrets, and the host's RAM role that may read exactly those."""
        region = spec.site.region
        secrets = []
        for f in spec.files:
            if f.mode not in OWNER_ONLY:
                continue
            name = f"ihh-{self.stack}-{spec.name}-{f.path.strip('/').replace('/', '-').replace('.', '-')}"
            kms.Secret(f"secret-{spec.name}-{f.path}", secret_name=name, secret_data=pulumi.Output.secret(f.content),
                       secret_data_type="text", version_id="v1",  # noqa: S106 - the data's type, not a password
                       encryption_key_id=self._kms_key(region).id,
                       recovery_window_in_days=7, tags={f"{LABEL_PREFIX}host": spec.name},
                       opts=self._in(region, parent))
            secrets.append(SecretFile(name, f.path, f.owner, f.mode))
        if not secrets:
            return [], None
        role = ram.Role(
            f"role-{spec.name}", role_name=f"ihh-{self.stack}-{spec.name}",
            assume_role_policy_document=json.dumps({"Version": "1", "Statement": [{
                "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["ecs.aliyuncs.com"]}}]}),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        policy = ram.Policy(
            f"policy-{spec.name}", policy_name=f"ihh-{self.stack}-{spec.name}-secrets",
            policy_document=json.dumps({"Version": "1", "Statement": [{
                "Action": ["kms:GetSecretValue", "kms:Decrypt"], "Effect": "Allow",
                "Resource": [f"acs:kms:{region}:*:secret/ihh-{self.stack}-{spec.name}-*",
                             f"acs:kms:{region}:*:key/*"]}]}),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        ram.RolePolicyAttachment(f"policy-{spec.name}", policy_name=policy.policy_name, policy_type="Custom",
                                 role_name=role.role_name, opts=pulumi.ResourceOptions(parent=parent))
        return secrets, role

    def host(self, spec: HostSpec, parent: pulumi.Resource, depends_on: list[pulumi.Resource]) -> Host:
        region = spec.site.region
        if self.log_sink is not None and spec.ships_logs:
            spec = replace(spec, files=(*spec.files,
                                        *shipping_files(self.log_sink, spec.name,
                                                        self.address_on(self.log_sink.host, "app"))))
        spec = replace(spec, files=(*spec.files, *drill_access_files()))
        secrets, role = self._secret_files(spec, parent)
        files = [f for f in spec.files if f.mode not in OWNER_ONLY]
        user_data = pulumi.Output.all(
            *[pulumi.Output.from_input(f.content) for f in files], self._ssh_public_key
        ).apply(lambda contents: _cloud_init(spec, files, contents[:-1], contents[-1], tuple(secrets), region))
        segments = [*spec.roles, "mgmt"]
        instance = ecs.Instance(
            spec.name,
            instance_name=f"ihh-{self.stack}-{spec.name}",
            host_name=spec.name,
            instance_type=self.config.prod.instance_type,
            image_id=self.config.prod.image_id,
            vswitch_id=self._switch(spec.site, spec.ordinal).id,
            security_groups=[self._group(region, s).id for s in segments],
            key_name=self._key_pair(region).key_pair_name,
            system_disk_category="cloud_essd",
            system_disk_encrypted=True,
            system_disk_kms_key_id=self._kms_key(region).id,
            # A disk of its own per declared disk (the WAL), encrypted like the system disk; cloud-init makes
            # its filesystem and mounts it by label before any service starts.
            data_disks=[ecs.InstanceDataDiskArgs(
                name=f"ihh-{self.stack}-{spec.name}-{disk.name}", size=max(DATA_DISK_MIN_GB, -(-disk.size_mb // 1024)),
                category="cloud_essd", encrypted=True, kms_key_id=self._kms_key(region).id,
                delete_with_instance=True,
            ) for disk in spec.disks] or None,
            role_name=role.role_name if role is not None else None,
            user_data=user_data,
            tags=labels_for(spec, self.stack),
            opts=pulumi.ResourceOptions.merge(self._in(region, parent), pulumi.ResourceOptions(depends_on=depends_on)),
        )
        pvtz.ZoneRecord(
            f"dns-{spec.name}", zone_id=self.zone.id, rr=spec.name, type="A", value=instance.private_ip,
            ttl=60, opts=self._in(self.config.primary_site.region, parent),
        )
        endpoint = instance.private_ip.apply(lambda ip: f"{ip}:22")
        endpoints = {"ssh": endpoint}
        for port in spec.ports:
            endpoints[port.purpose] = instance.private_ip.apply(lambda ip, p=port.container_port: f"{ip}:{p}")
        return Host(
            name=spec.name, roles=spec.roles, site=spec.site, resource=instance, container=None,
            endpoints=endpoints, ssh_host_key=pulumi.Output.from_input(""), instance_id=instance.id,
        )

    def supervision_route(self, config: StackConfig, ingress_names: dict[str, str],
                          secrets: StackSecrets) -> SupervisionRoute | None:
        """The platform's own URL from the stack config (none configured: no upload)."""
        return configured_route(config.supervision)

    def provider_lines(
        self, uplinks: tuple[Uplink, ...], ingress: dict[str, Host], ingress_port: int,
        parent: pulumi.Resource, site: Site,
    ) -> tuple[Host | None, dict[str, dict[str, pulumi.Output[str]]]]:
        lines: dict[str, dict[str, Any]] = {}
        for uplink in uplinks:
            eip = ecs.EipAddress(
                f"eip-{uplink.name}",
                address_name=f"ihh-{self.stack}-{uplink.name}",
                isp=ISP_BY_PROVIDER.get(uplink.provider.strip().lower(), "BGP"),
                bandwidth=str(uplink.bandwidth_mbps),
                internet_charge_type="PayByBandwidth",
                payment_type="PayAsYouGo",
                tags={
                    f"{LABEL_PREFIX}uplink.name": uplink.name,
                    f"{LABEL_PREFIX}uplink.provider": uplink.provider,
                    f"{LABEL_PREFIX}uplink.bandwidth-mbps": str(uplink.bandwidth_mbps),
                },
                opts=self._in(site.region, parent),
            )
            ecs.EipAssociation(
                f"eip-{uplink.name}", allocation_id=eip.id, instance_id=ingress[uplink.name].resource.id,
                opts=self._in(site.region, parent),
            )
            lines[uplink.name] = {
                "url": eip.ip_address.apply(lambda ip, p=ingress_port: f"https://{ip}:{p}"),
                "toxiproxy_proxy": None,
            }
        return None, lines


ROLE_TIMERS = {
    "backup": [["systemctl", "enable", "--now", "ihh-backup-scheduler.timer"]],
    # Patroni fences an isolated primary with the kernel's watchdog (mode "required"): softdog, writable
    # by Patroni's user only, loaded at every boot.
    "database": [["sh", "-c", "echo softdog > /etc/modules-load.d/softdog.conf && modprobe softdog"],
                 ["sh", "-c", "echo 'KERNEL==\"watchdog\", OWNER=\"postgres\", GROUP=\"postgres\", MODE=\"0600\"'"
                              " > /etc/udev/rules.d/61-watchdog.rules && udevadm trigger --name-match=watchdog"]],
}
"""Boot steps a role's hosts take (units from images/<role>/rootfs, baked into prod.imageId): the backup
schedule, the database hosts' watchdog."""


OWNER_ONLY = ("0600", "0400")
"""File modes that mark a secret: delivered through KMS, never in user data."""


@dataclass(frozen=True)
class SecretFile:
    """An owner-only file the host fetches at boot from KMS with its RAM role (``aliyun`` CLI in the image)."""

    secret_name: str
    path: str
    owner: str
    mode: str

    def fetch(self, region: str) -> list[str]:
        command = (f"umask 077 && aliyun kms GetSecretValue --region {region} --SecretName {self.secret_name} "
                   "--mode EcsRamRole | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)"
                   f"[\"SecretData\"])' > {self.path} && chown {self.owner}:{self.owner} {self.path} "
                   f"&& chmod {self.mode} {self.path}")
        return ["sh", "-c", command]


def _packed(content: str) -> dict[str, str]:
    """A file's content for write_files: large ones (the drill wrapper) gzipped, as user data is capped at 32 KB."""
    if len(content) < 2048:
        return {"content": content}
    return {"content": base64.b64encode(gzip.compress(content.encode(), mtime=0)).decode(), "encoding": "gz+b64"}


def _cloud_init(spec: HostSpec, files: list[Any], contents: list[str], ssh_public_key: str,
                secrets: tuple[SecretFile, ...] = (), region: str = "") -> str:
    """cloud-config: the role's Debian packages (the list the local images use), its files, its secrets' fetches.

    The role's service wiring (images/<role>/rootfs) is expected in the custom image
    named by ``prod.imageId``; see README, "prod stack".
    """
    # Data disks appear as vdb, vdc, ... in the order declared; each gets an ext4 labelled with its name.
    disks = [(disk, f"/dev/vd{chr(ord('b') + i)}") for i, disk in enumerate(spec.disks)]
    document = {
        "manage_etc_hosts": False,
        **({"fs_setup": [{"label": disk.name, "filesystem": "ext4", "device": device, "partition": "none",
                          "extra_opts": ["-m", "0"]} for disk, device in disks],
            "mounts": [[f"LABEL={disk.name}", disk.mount, "ext4", "defaults,nofail", "0", "2"]
                       for disk, _ in disks]} if disks else {}),
        "write_files": [
            {"path": f.path, **_packed(content), "owner": f"{f.owner}:{f.group or f.owner}", "permissions": f.mode,
             "defer": True}
            for f, content in zip(files, contents, strict=True)
        ] + [{"path": AUTHORIZED_KEYS, "content": ssh_public_key, "permissions": "0644"}],
        "package_update": True,
        "packages": list(ROLE_PACKAGES[spec.image]),
        "runcmd": [["sh", "-c", f"echo 'search {INTERNAL_ZONE}' >> /etc/resolv.conf"],
                   *[["sh", "-c", f"mountpoint -q {disk.mount} && echo {disk.size_mb} > {disk.mount}/{DISK_MARK}"]
                     for disk, _ in disks],
                   *[s.fetch(region) for s in secrets],
                   *ROLE_TIMERS.get(spec.image, [])],
        "final_message": json.dumps({"ihh.host": spec.name, "roles": list(spec.roles)}),
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)

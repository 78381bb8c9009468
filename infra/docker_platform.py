"""The local platform: every host a Docker container on segmented bridge networks.

Images are built from the project's Dockerfiles on a debootstrap base; operators
reach hosts only through ports published on a loopback address; a management
network with inter-container traffic disabled carries those published ports, so
it joins nothing that the segmentation keeps apart.
"""

from __future__ import annotations

import ipaddress
import json

import pulumi
import pulumi_docker as docker
import pulumi_tls as tls

from infra.av_nodes import TURN_PORT
from infra.config import LocalConfig, Site, StackConfig, Uplink
from infra.drill_access import drill_access_files
from infra.images import IMAGES_DIR, ROLE_PACKAGES, TOXIPROXY_BINARY, base_image_tag, role_image_tag
from infra.log_host import LogSink, shipping_files
from infra.model import (
    ADMIT_ONLY_FILE,
    AUTHORIZED_KEYS,
    DISK_SIZE_LABEL,
    LABEL_PREFIX,
    NETWORKS,
    SSH_HOST_KEY,
    File,
    Healthcheck,
    Host,
    HostSpec,
    NetworkName,
    Port,
    Role,
    labels_for,
)
from infra.secrets import StackSecrets
from infra.supervision import READY_PATH as SUPERVISION_READY
from infra.supervision import (
    SupervisionRoute,
    egress_proxies,
    local_route,
    simulator_files,
    simulator_ports,
)

PORT_BLOCKS: dict[Role, int] = {
    "wan": 0, "ingress": 40, "app": 80, "database": 160, "dcs": 240, "av": 280, "backup": 360, "log": 400,
}
"""Offsets from ``portBase`` per role's block of published ports."""
PORTS_PER_HOST: dict[Role, int] = {"wan": 40, "ingress": 4, "app": 4, "database": 4, "dcs": 4, "av": 4, "backup": 4,
                                   "log": 4}
"""Consecutive ports each host of a role gets: the WAN simulator needs one per uplink."""
TOXIPROXY_API_PORT = 8474
DNS_OPTIONS = ("timeout:1", "attempts:1")
"""resolv.conf options of every local host: a name the engine no longer knows fails within a second."""
RELAY_HOST_OFFSET = 10
"""TURN node N relays from the media subnet's host number 10 + N; the engine hands out addresses from the
bottom of the subnet to the other hosts on it, which are fewer than ten."""
DISKS_DIR = "/var/lib/ihh/disks"
"""Where the local stack's disks (loop-mounted ext4 images) are mounted on this machine, one per host and disk."""
UPLINK_LISTEN_BASE = 20000
MEDIA_LINE_LISTEN_BASE = 21000
"""Where the wan host's UDP impairer listens for each TURN node's clients (the media line), one port per node."""
MEDIA_LINE_API_PORT = 8475
SUPERVISION_CONTROL_SLOT = 19
"""The wan host's published port of the supervision platform simulator's control API."""
MEDIA_LINE_SLOT = 20
"""The wan host's published ports from here on are the media line's: its API, then one UDP port per TURN node.
Fixed, since the service is told these addresses before the wan host is declared (after the app tier)."""
MEDIA_LINE_TOKEN_PATH = "/etc/ihh/wan/media-line-token"  # noqa: S105 - a path, not the token
MEDIA_LINE_READY = "/tmp/ihh-media-line-ready"  # noqa: S108 - in the wan host


class DockerPlatform(pulumi.ComponentResource):
    """Networks and images of the local stack, and a factory of host containers."""

    def __init__(
        self,
        name: str,
        stack: str,
        local: LocalConfig,
        ssh_public_key: pulumi.Output[str],
        log_sink: LogSink | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ihh:local:DockerPlatform", name, None, opts)
        self.stack = stack
        # Containers share this machine's kernel: /dev/watchdog would reset the machine. Patroni's
        # named-pipe driver, read by the database image's container-watchdog, resets the service instead.
        self.host_watchdog = {"driver": "testing", "device": "/run/ihh/watchdog"}
        self.ssh_public_key = ssh_public_key
        self.log_sink = log_sink
        self.prefix = f"ihh-{stack}"
        self.local = local
        self._images: dict[Role, docker.Image] = {}
        self._media_links: list[dict[str, str]] = []
        self._media_token: pulumi.Output[str] | None = None
        self._supervision_secrets: StackSecrets | None = None
        child = pulumi.ResourceOptions(parent=self)
        self.management = docker.Network(
            "net-mgmt",
            name=f"{self.prefix}-mgmt",
            options={"com.docker.network.bridge.enable_icc": "false"},
            labels=self._labels({f"{LABEL_PREFIX}network": "mgmt"}),
            opts=child,
        )
        self.networks: dict[NetworkName, docker.Network] = {
            segment: docker.Network(
                f"net-{segment}",
                name=f"{self.prefix}-{segment}",
                internal=internal,
                ipam_configs=[docker.NetworkIpamConfigArgs(subnet=local.media_subnet)] if segment == "media" else None,
                labels=self._labels({f"{LABEL_PREFIX}network": segment}),
                opts=child,
            )
            for segment, internal in NETWORKS.items()
        }
        self.register_outputs({"networks": {k: v.name for k, v in self.networks.items()}})

    def _label_map(self, extra: dict[str, str]) -> list[tuple[str, str]]:
        """The stack's own labels and ``extra``, sorted: `down` and `--cleanup` find what is theirs by them."""
        return sorted({f"{LABEL_PREFIX}stack": self.stack, f"{LABEL_PREFIX}managed-by": "ihh", **extra}.items())

    def _volume_labels(self, host: str, extra: dict[str, str] | None = None) -> list[docker.VolumeLabelArgs]:
        labels = self._label_map({f"{LABEL_PREFIX}host": host, **(extra or {})})
        return [docker.VolumeLabelArgs(label=k, value=v) for k, v in labels]

    def _labels(self, extra: dict[str, str]) -> list[docker.ContainerLabelArgs]:
        return [docker.ContainerLabelArgs(label=k, value=v) for k, v in self._label_map(extra)]

    def image(self, role: Role) -> docker.Image:
        """The role's image, declared once, built from ``images/Dockerfile`` with the role's packages and files."""
        if role not in self._images:
            if role == "wan" and not TOXIPROXY_BINARY.exists():
                raise FileNotFoundError(
                    f"{TOXIPROXY_BINARY} is missing: run `harness setup` (go install of Toxiproxy)"
                )
            self._images[role] = docker.Image(
                f"image-{role}",
                image_name=role_image_tag(role),
                build=docker.DockerBuildArgs(
                    context=str(IMAGES_DIR),
                    dockerfile=str(IMAGES_DIR / "Dockerfile"),
                    args={"BASE_IMAGE": base_image_tag(), "ROLE": role, "PACKAGES": " ".join(ROLE_PACKAGES[role])},
                ),
                skip_push=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self._images[role]

    def port(self, role: Role, ordinal: int, slot: int) -> int:
        """The published port of ``slot`` on the ``ordinal``-th host of ``role``."""
        width = PORTS_PER_HOST[role]
        if slot >= width:
            raise ValueError(f"{role} host {ordinal} asks for port slot {slot}; only {width} exist")
        return self.local.port_base + PORT_BLOCKS[role] + (ordinal - 1) * width + slot

    def internal_address(self, host_name: str) -> str:
        return host_name

    def relay_address(self, spec: HostSpec) -> str | None:
        """A TURN node's fixed address on the media network: the subnet's tenth host onwards, by ordinal."""
        if "av" not in spec.roles or "media" not in spec.networks:
            return None
        return str(ipaddress.IPv4Network(self.local.media_subnet)[RELAY_HOST_OFFSET + spec.ordinal])

    def address_on(self, host_name: str, network: NetworkName) -> str:
        return f"{host_name}.{network}"  # an alias on that network alone (the short name is on every one)

    def host(self, spec: HostSpec, parent: pulumi.Resource, depends_on: list[pulumi.Resource]) -> Host:
        container_name = f"{self.prefix}-{spec.name}"
        opts = pulumi.ResourceOptions(parent=parent, depends_on=depends_on)
        published = (Port("ssh", 22), *spec.ports)
        slots = [port.slot if port.slot is not None else index for index, port in enumerate(published)]
        ports = [
            docker.ContainerPortArgs(
                internal=port.container_port,
                external=self.port(spec.image, spec.ordinal, slot),
                ip=self.local.bind_address,
                protocol=port.protocol,
            )
            for slot, port in zip(slots, published, strict=True)
        ]
        endpoints = {
            port.purpose: pulumi.Output.from_input(
                f"{self.local.bind_address}:{self.port(spec.image, spec.ordinal, slot)}"
            )
            for slot, port in zip(slots, published, strict=True)
        }
        # The stack generates each host's SSH host key, so checks verify it instead of trusting on first use.
        host_key = tls.PrivateKey(
            f"hostkey-{spec.name}", algorithm="ED25519", opts=pulumi.ResourceOptions(parent=parent)
        )
        volumes = []
        for volume_name, mount in spec.volumes:
            volume = docker.Volume(
                f"vol-{spec.name}-{volume_name}",
                name=f"{container_name}-{volume_name}",
                labels=self._volume_labels(spec.name),
                opts=pulumi.ResourceOptions(parent=parent),
            )
            volumes.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path=mount))
        for disk in spec.disks:
            # The engine's local driver binds a directory; the executor (or `harness setup --disks`, before a
            # `pulumi up`) mounts a loop-backed ext4 of the labelled size there first.
            volume = docker.Volume(
                f"disk-{spec.name}-{disk.name}",
                name=f"{container_name}-{disk.name}",
                driver="local",
                driver_opts={"type": "none", "o": "bind", "device": f"{DISKS_DIR}/{container_name}-{disk.name}"},
                labels=self._volume_labels(spec.name, {DISK_SIZE_LABEL: str(disk.size_mb)}),
                opts=pulumi.ResourceOptions(parent=parent),
            )
            volumes.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path=disk.mount))
        container = docker.Container(
            spec.name,
            name=container_name,
            # The engine makes a container's hostname an alias on every network it joins, the
            # management network included; the short name must resolve on the segments only.
            hostname=container_name,
            image=spec.replacement_image or self.image(spec.image).image_name,
            networks_advanced=[
                *[
                    docker.ContainerNetworksAdvancedArgs(
                        name=self.networks[n].name, aliases=[spec.name, self.address_on(spec.name, n)],
                        ipv4_address=self.relay_address(spec) if n == "media" else None)
                    for n in spec.networks
                ],
                docker.ContainerNetworksAdvancedArgs(name=self.management.name),
            ],
            ports=ports,
            # A host's root may manage its own firewall and queues: admit_only's host firewall (set at every
            # start by /etc/ihh/prestart.d/20-admit-only; in prod the security groups do it), and the drills'
            # iptables and tc over SSH (`--target ssh`), as on a real server. The container's own netns only.
            capabilities=docker.ContainerCapabilitiesArgs(adds=["NET_ADMIN"]),
            uploads=_uploads((
                *spec.files,
                *(shipping_files(self.log_sink, spec.name, self.address_on(self.log_sink.host, spec.networks[0]))
                  if self.log_sink is not None and spec.ships_logs else ()),
                *([File(ADMIT_ONLY_FILE, json.dumps([
                    {"address": self.address_on(spec.name, n), "tcp": list(ports)} for n, ports in spec.admit_only
                ]))] if spec.admit_only else []),
                File(AUTHORIZED_KEYS, self.ssh_public_key),
                *drill_access_files(),
                File(SSH_HOST_KEY, host_key.private_key_openssh, mode="0600"),
            )),
            volumes=volumes,
            healthcheck=_healthcheck(spec),
            labels=self._labels({**labels_for(spec, self.stack)}),
            restart="unless-stopped",
            init=False,
            # The engine's DNS forgets a stopped container and asks upstream, which can stall a lookup for the
            # resolver's default 5 s: Patroni's leader, resolving two killed etcd members while etcd had no
            # quorum, went 9 s without pinging its watchdog and was reset though healthy. One second, once.
            dns_opts=list(DNS_OPTIONS),
            opts=opts,
        )
        return Host(
            name=spec.name,
            roles=spec.roles,
            site=spec.site,
            resource=container,
            container=container.name,
            endpoints=endpoints,
            ssh_host_key=host_key.public_key_openssh,
        )

    def media_lines(self, av_hosts: list[Host], token: pulumi.Output[str]) -> dict[str, pulumi.Output[str]]:
        """Each TURN node's clients go through the wan host's UDP impairer (declared with the provider lines)."""
        self._media_links = [
            {"name": h.name, "listen": f"0.0.0.0:{MEDIA_LINE_LISTEN_BASE + i}",
             "upstream": f"{self.address_on(h.name, 'media')}:{TURN_PORT}"}
            for i, h in enumerate(av_hosts)
        ]
        self._media_token = token
        return {h.name: pulumi.Output.from_input(
                    f"{self.local.bind_address}:{self.port('wan', 1, _media_node_slot(i))}")
                for i, h in enumerate(av_hosts)}

    def supervision_route(self, config: StackConfig, ingress_names: dict[str, str],
                          secrets: StackSecrets) -> SupervisionRoute:
        """Locally the platform is the wan host's simulator, reached through each ingress host's relay."""
        self._supervision_secrets = secrets
        return local_route(config, ingress_names, "wan", secrets)

    def _supervision_platform(self, uplinks: tuple[Uplink, ...]) -> tuple[list[dict[str, object]], tuple[Port, ...],
                                                                         tuple[File, ...]]:
        """The wan host's simulator of the supervision platform: its line proxies, published port and files."""
        if self._supervision_secrets is None:
            return [], (), ()
        return (egress_proxies(uplinks), simulator_ports(SUPERVISION_CONTROL_SLOT),
                simulator_files(self._supervision_secrets))

    def _media_line(self) -> tuple[tuple[Port, ...], tuple[File, ...]]:
        """The wan host's media line: its ports and files, where TURN nodes stand behind it."""
        if not self._media_links or self._media_token is None:
            return (), ()
        ports = (Port("media-line-api", MEDIA_LINE_API_PORT, slot=MEDIA_LINE_SLOT),
                 *[Port(f"media-{link['name']}", int(link["listen"].rpartition(":")[2]), "udp",
                        slot=_media_node_slot(i)) for i, link in enumerate(self._media_links)])
        config = {"api": f"0.0.0.0:{MEDIA_LINE_API_PORT}", "token_file": MEDIA_LINE_TOKEN_PATH,
                  "ready_file": MEDIA_LINE_READY, "links": self._media_links}
        files = (File("/etc/ihh/wan/udp-links.json", json.dumps(config, indent=2)),
                 File(MEDIA_LINE_TOKEN_PATH, self._media_token, owner="nobody", group="nogroup", mode="0600"))
        return ports, files

    def provider_lines(
        self, uplinks: tuple[Uplink, ...], ingress: dict[str, Host], ingress_port: int,
        parent: pulumi.Resource, site: Site,
    ) -> tuple[Host, dict[str, dict[str, pulumi.Output[str]]]]:
        """Simulate each provider's line with a Toxiproxy proxy shaped to its contract."""
        proxies = [
            {"name": u.name, "listen": f"0.0.0.0:{UPLINK_LISTEN_BASE + i}",
             "upstream": f"{ingress[u.name].name}:{ingress_port}", "enabled": True}
            for i, u in enumerate(uplinks)
        ]
        kbytes = {u.name: u.bandwidth_mbps * 1000 // 8 for u in uplinks}
        toxics = [
            {"proxy": u.name, "name": f"contract-{stream}", "type": "bandwidth", "stream": stream,
             "toxicity": 1.0, "attributes": {"rate": kbytes[u.name]}}
            for u in uplinks for stream in ("downstream", "upstream")
        ]
        media_ports, media_files = self._media_line()
        supervision_proxies, supervision_ports, supervision_files = self._supervision_platform(uplinks)
        proxies += supervision_proxies
        spec = HostSpec(
            name="wan",
            roles=("wan",),
            site=site,
            image="wan",
            ordinal=1,
            networks=("uplink", "media") if media_ports else ("uplink",),
            ports=(Port("toxiproxy-api", TOXIPROXY_API_PORT),
                   *[Port(f"uplink-{u.name}", UPLINK_LISTEN_BASE + i) for i, u in enumerate(uplinks)], *media_ports,
                   *supervision_ports),
            files=(
                File("/etc/ihh/wan/proxies.json", json.dumps(proxies, indent=2)),
                File("/etc/ihh/wan/toxics.json", json.dumps(toxics, indent=2)),
                *media_files,
                *supervision_files,
            ),
            # Healthy once the contracted shaping is applied (and the media line and the supervision platform
            # listen), not merely when the API answers.
            healthcheck=Healthcheck(("sh", "-c", " && ".join(
                f"ihh-probe file {ready}" for ready in ("/tmp/ihh-wan-ready",  # noqa: S108 - in the container
                                                        *([MEDIA_LINE_READY] if media_ports else []),
                                                        *([SUPERVISION_READY] if supervision_files else []))))),
            labels={f"{LABEL_PREFIX}wan-proxies": ",".join(u.name for u in uplinks),
                    **({f"{LABEL_PREFIX}supervision": "simulator"} if supervision_files else {})},
        )
        wan = self.host(spec, parent, [h.resource for h in ingress.values()])
        lines = {
            u.name: {
                "url": wan.endpoints[f"uplink-{u.name}"].apply(lambda ep: f"https://{ep}"),
                "toxiproxy_proxy": pulumi.Output.from_input(u.name),
            }
            for u in uplinks
        }
        return wan, lines


def _media_node_slot(index: int) -> int:
    """The wan host's port slot for the media line of the ``index``-th TURN node (after the line's API)."""
    return MEDIA_LINE_SLOT + 1 + index


def _uploads(files: tuple[File, ...]) -> list[docker.ContainerUploadArgs]:
    manifest = [{"path": f.path, "owner": f.owner, "mode": f.mode, **({"group": f.group} if f.group else {})}
                for f in files]
    uploads = [docker.ContainerUploadArgs(file=f.path, content=f.content) for f in files]
    uploads.append(docker.ContainerUploadArgs(file="/etc/ihh/files.json", content=json.dumps(manifest, indent=2)))
    return uploads


def _healthcheck(spec: HostSpec) -> docker.ContainerHealthcheckArgs | None:
    check = spec.healthcheck
    if check is None:
        return None
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *check.command],
        interval=f"{check.interval_s}s",
        timeout=f"{check.timeout_s}s",
        retries=check.retries,
        start_period=f"{check.start_period_s}s",
    )

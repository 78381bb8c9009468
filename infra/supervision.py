"""The upload path to the provincial supervision platform (GD-3.2.1): where the app servers send their records.

The platform is outside the hospital, so uploads leave through the uplinks. Locally the wan host, which
plays the internet, runs a simulator of the platform (``ihh-supervision``); each ingress host relays the
app servers' uploads (TCP, TLS end to end, verified against the simulator's name) to the wan host through
a Toxiproxy proxy on its provider's line, so a drill cuts, slows or breaks the route as it does the inbound
lines. On servers the platform's own URL, with the token the platform issued, placed by operations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi

from infra.config import StackConfig, SupervisionConfig, Uplink
from infra.model import File, Platform, Port
from infra.secrets import StackSecrets

EGRESS_PORT = 8477
"""On each ingress host (app network): the app servers' way out to the platform, relayed over its line."""
SIMULATOR_NAME = "supervision-platform"
"""The name the simulator's certificate carries, which the service verifies through the relay."""
SIMULATOR_PORT = 8477
SIMULATOR_CONTROL_PORT = 8478
EGRESS_LISTEN_BASE = 8490
"""The wan host's Toxiproxy proxy for uplink ``i`` listens on this + i."""
TOKEN_PATH = "/etc/ihh/secrets/supervision-token"  # noqa: S105 - a path, not the token
CONTROL_TOKEN_PATH = "/etc/ihh/wan/supervision-control-token"  # noqa: S105 - a path
UPLOAD_TOKEN_PATH = "/etc/ihh/wan/supervision-upload-token"  # noqa: S105 - a path
CERT_PATH, KEY_PATH = "/etc/ihh/wan/supervision.crt", "/etc/ihh/wan/supervision.key"
STORE_PATH = "/var/lib/ihh/supervision/records.jsonl"
READY_PATH = "/tmp/ihh-supervision-ready"  # noqa: S108 - in the container


def egress_proxy(uplink: Uplink) -> str:
    """The Toxiproxy proxy carrying uploads over ``uplink``'s line."""
    return f"supervision-{uplink.name}"


@dataclass(frozen=True)
class SupervisionRoute:
    """How the service reaches the platform: URLs tried in turn, the TLS name and trust, the token's file."""

    endpoints: tuple[str, ...]
    server_name: str | None
    """The name the platform's certificate must carry, where the URL's host is a relay (locally)."""
    ca_file: str | None
    """None: the system's trust store (a real platform's public certificate)."""
    token_file: str
    lag_target_s: float
    egress: dict[str, str] = field(default_factory=dict)
    """Uplink name -> host:port its ingress relays uploads to (the local line); empty on servers."""
    token: pulumi.Output[str] | None = None
    """The upload token, where the stack issues it (the simulator's); on servers operations place it."""

    def service_config(self) -> dict[str, object]:
        return {"endpoints": list(self.endpoints), "server_name": self.server_name, "ca_file": self.ca_file,
                "token_file": self.token_file}


def configured_route(config: SupervisionConfig) -> SupervisionRoute | None:
    """On servers: the platform's URL from the stack config, or no upload at all when none is given."""
    if config.endpoint is None:
        return None
    return SupervisionRoute(endpoints=(config.endpoint,), server_name=None, ca_file=None,
                            token_file=config.token_file, lag_target_s=config.lag_target_s)


def simulator_files(secrets: StackSecrets) -> tuple[File, ...]:
    """The wan host's simulator: its config, certificate (the stack CA's, for SIMULATOR_NAME) and both tokens."""
    tls = secrets.host_certificate(SIMULATOR_NAME)
    config = {"listen": f"0.0.0.0:{SIMULATOR_PORT}", "control": f"0.0.0.0:{SIMULATOR_CONTROL_PORT}",
              "cert_file": CERT_PATH, "key_file": KEY_PATH, "token_file": UPLOAD_TOKEN_PATH,
              "control_token_file": CONTROL_TOKEN_PATH, "store": STORE_PATH, "ready_file": READY_PATH}
    return (File("/etc/ihh/wan/supervision.json", json.dumps(config, indent=2)),
            File(CERT_PATH, tls.cert_pem),
            File(KEY_PATH, tls.key_pem, owner="nobody", group="nogroup", mode="0600"),
            File(UPLOAD_TOKEN_PATH, secrets.passwords["supervision-upload-token"], owner="nobody", group="nogroup",
                 mode="0600"),
            File(CONTROL_TOKEN_PATH, secrets.passwords["supervision-control-token"], owner="nobody",
                 group="nogroup", mode="0600"))


def simulator_ports(control_slot: int) -> tuple[Port, ...]:
    """Only the control API is published (loopback); uploads arrive from the ingress hosts' relays."""
    return (Port("supervision-control", SIMULATOR_CONTROL_PORT, slot=control_slot),)


def egress_proxies(uplinks: tuple[Uplink, ...]) -> list[dict[str, object]]:
    """Toxiproxy proxies on the wan host, one per line, each to the simulator beside it."""
    return [{"name": egress_proxy(u), "listen": f"0.0.0.0:{EGRESS_LISTEN_BASE + i}",
             "upstream": f"127.0.0.1:{SIMULATOR_PORT}", "enabled": True} for i, u in enumerate(uplinks)]


def local_route(config: StackConfig, ingress_names: dict[str, str], line_host: str,
                secrets: StackSecrets) -> SupervisionRoute:
    """Locally: through each ingress host's relay, over its line's proxy, to the simulator on ``line_host``."""
    return SupervisionRoute(
        endpoints=tuple(f"https://{ingress_names[u.name]}:{EGRESS_PORT}" for u in config.uplinks),
        server_name=SIMULATOR_NAME, ca_file="/etc/ihh/tls/ca.crt", token_file=TOKEN_PATH,
        lag_target_s=config.supervision.lag_target_s,
        egress={u.name: f"{line_host}:{EGRESS_LISTEN_BASE + i}" for i, u in enumerate(config.uplinks)},
        token=secrets.passwords["supervision-upload-token"])


@dataclass
class SupervisionUploadArgs:
    platform: Platform
    config: StackConfig
    ingress_names: dict[str, str]
    secrets: StackSecrets


class SupervisionUpload(pulumi.ComponentResource):
    """The route the app tier's forwarder uploads by; None when the stack configures no platform."""

    route: SupervisionRoute | None

    def __init__(self, name: str, args: SupervisionUploadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:supervision:SupervisionUpload", name, None, opts)
        self.route = args.platform.supervision_route(args.config, args.ingress_names, args.secrets)
        self.register_outputs({"endpoints": list(self.route.endpoints) if self.route else []})

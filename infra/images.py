"""Image recipes for the local stack: the debootstrap base and one role image per role.

Tags carry content hashes, so a changed Dockerfile or file builds a new image and an
unchanged one is reused; the base image's tag changes with its package list.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
TOXIPROXY_BINARY = IMAGES_DIR / "wan" / "rootfs" / "usr" / "local" / "bin" / "toxiproxy-server"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
TOXIPROXY_VERSION = "v2.5.0"

BASE_SUITE = "bookworm"
BASE_MIRROR = "http://deb.debian.org/debian"
BASE_REPOSITORY = "ihh/base"
BASE_PACKAGES = (
    "ca-certificates",
    "iproute2",
    "iptables",
    "openssh-server",
    "procps",
    "python3",
    "sudo",
    "supervisor",
)
BASE_SOURCES = (
    f"deb {BASE_MIRROR} {BASE_SUITE} main\n"
    f"deb {BASE_MIRROR} {BASE_SUITE}-updates main\n"
    f"deb http://deb.debian.org/debian-security {BASE_SUITE}-security main\n"
)


COMMON_PACKAGES = ("rsyslog", "rsyslog-gnutls")
"""On every host: rsyslog ships its logs to the log host over TLS (the log host receives with the same)."""
ROLE_PACKAGES: dict[str, tuple[str, ...]] = {
    role: (*COMMON_PACKAGES, *packages)
    for role, packages in {
        "app": ("python3-psycopg",),
        "database": ("postgresql-15", "patroni", "pgbackrest", "python3-psycopg2", "python3-etcd"),
        "dcs": ("etcd-server",),
        "ingress": ("haproxy",),
        "wan": ("ca-certificates",),
        "av": ("coturn",),
        "backup": ("pgbackrest",),
        "log": (),
    }.items()
}
"""Debian packages per role: the build argument of each role image, and what prod hosts install."""


def _digest(parts: list[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big"))
        sha.update(part)
    return sha.hexdigest()[:12]


def base_image_tag() -> str:
    """The base image reference; its tag is a hash of the debootstrap recipe."""
    recipe = "\n".join([BASE_SUITE, BASE_MIRROR, BASE_SOURCES, *BASE_PACKAGES]).encode()
    return f"{BASE_REPOSITORY}:{BASE_SUITE}-{_digest([recipe])}"


def role_image_tag(role: str) -> str:
    """``ihh/<role>:<hash>`` over the base tag, the packages, the Dockerfile, the shared and the role's own files."""
    parts = [base_image_tag().encode(), " ".join(ROLE_PACKAGES[role]).encode()]
    parts.append((IMAGES_DIR / "Dockerfile").read_bytes())
    for folder in (IMAGES_DIR / "common", IMAGES_DIR / role):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            mode = path.stat().st_mode & 0o777
            parts += [str(path.relative_to(IMAGES_DIR)).encode(), str(mode).encode(), path.read_bytes()]
    return f"ihh/{role}:{_digest(parts)}"

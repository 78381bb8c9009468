"""The Debian base image every role image starts FROM, built with debootstrap.

No registry is reachable, so nothing is pulled: debootstrap fetches Debian
packages, ``docker import`` turns the tree into an image. The tag carries a hash
of the recipe, so a changed package list builds a new image and an unchanged one
is reused (the slow step of a cold setup is done once per machine).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
from docker.errors import ImageNotFound

from harness.core.progress import step
from infra.images import (
    BASE_MIRROR,
    BASE_PACKAGES,
    BASE_SOURCES,
    BASE_SUITE,
    base_image_tag,
)


def ensure_base_image(client: docker.DockerClient) -> str:
    """Build the base image unless an image of this recipe exists; return its tag."""
    tag = base_image_tag()
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="ihh-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        with step(f"debootstrap {BASE_SUITE} ({len(BASE_PACKAGES)} extra packages)"):
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    BASE_SUITE,
                    str(root),
                    BASE_MIRROR,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        (root / "etc/apt/sources.list").write_text(BASE_SOURCES)
        for cache in (root / "var/cache/apt/archives").glob("*.deb"):
            cache.unlink()
        with step(f"docker import {tag}"):
            _import_tree(client, root, tag)
    return tag


def _import_tree(client: docker.DockerClient, root: Path, tag: str) -> None:
    """Stream the root file system as a tar into ``docker import``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(str(root), arcname=".")
    buffer.seek(0)
    repository, _, version = tag.partition(":")
    client.api.import_image_from_data(
        buffer.getvalue(),
        repository=repository,
        tag=version,
        changes=['CMD ["/bin/bash"]', "LABEL ihh.image=base"],
    )
    client.images.get(tag)

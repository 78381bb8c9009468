"""The local stack's disks: a loop-mounted ext4 image per host and disk, bound into its container.

A volume of the engine lives on this machine's own filesystem; a drill that fills one (the WAL disk)
would fill the machine. A disk of its own is what a real host has, so the executor mounts a sparse
image of the declared size at the volume's bind source before the volume is used, and removes both
with the volume. ``DISK_MARK`` on the filesystem's root tells the host's start-up that the disk, and
not the bare directory under it, is what it got (after a reboot nothing is mounted until ``up``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.core.progress import say
from infra.model import DISK_MARK


class DiskError(RuntimeError):
    """A disk could not be made, mounted or released; says which and why."""


def _run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DiskError(f"`{' '.join(command)}` exited {result.returncode}: {result.stderr.strip()[-400:]}")
    return result.stdout


def image_of(mountpoint: Path) -> Path:
    return mountpoint.with_name(mountpoint.name + ".img")


def is_mounted(mountpoint: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(mountpoint)], check=False).returncode == 0


def ensure(mountpoint: Path, size_mb: int) -> bool:
    """The disk made (once) and mounted at ``mountpoint``; True when it had to be mounted now."""
    if size_mb < 64:
        raise DiskError(f"{mountpoint}: a disk of {size_mb} MB is too small (64 MB at least)")
    if is_mounted(mountpoint):
        return False
    if os.geteuid() != 0:
        raise DiskError(f"{mountpoint}: mounting the local stack's disks needs root (loop devices); run `harness "
                        "up` as root, as the engine's socket requires anyway")
    image = image_of(mountpoint)
    mountpoint.mkdir(parents=True, exist_ok=True)
    fresh = not image.exists()
    if fresh:
        say(f"make disk {image} ({size_mb} MB, ext4, sparse)")
        with image.open("wb") as sparse:
            sparse.truncate(size_mb * 1024 * 1024)
        # -m 0: no blocks reserved for root, so `df` shows what PostgreSQL (not root) can still write
        _run("mkfs.ext4", "-q", "-F", "-m", "0", "-L", mountpoint.name[-16:], str(image))
    _run("mount", "-o", "loop", str(image), str(mountpoint))
    if fresh:
        (mountpoint / DISK_MARK).write_text(f"{size_mb}\n")
    return True


def release(mountpoint: Path) -> None:
    """Unmounted (the loop device goes with it) and its image deleted: the volume it stood behind is gone."""
    if is_mounted(mountpoint):
        _run("umount", str(mountpoint))
    image = image_of(mountpoint)
    if image.exists():
        image.unlink()
    if mountpoint.is_dir() and not any(mountpoint.iterdir()):
        mountpoint.rmdir()
    say(f"released disk {mountpoint}")

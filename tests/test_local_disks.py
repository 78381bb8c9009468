"""The local stack's disks are real filesystems of their own: full means full there, and nowhere else."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from harness.provisioning import local_disks
from infra.model import DISK_MARK

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loop mounts need root, as `harness up` does")


def test_a_disk_is_made_once_mounted_marked_and_released(tmp_path) -> None:
    mountpoint = tmp_path / "ihh-test-db-1-wal"
    assert local_disks.ensure(mountpoint, 64) is True
    try:
        assert local_disks.is_mounted(mountpoint) and (mountpoint / DISK_MARK).read_text() == "64\n"
        assert local_disks.ensure(mountpoint, 64) is False, "mounted already: nothing to do"
        usage = shutil.disk_usage(mountpoint)
        assert 40 * 2**20 < usage.total <= 64 * 2**20, "the declared size, not the machine's disk"
        (mountpoint / "kept").write_text("survives a remount")
        subprocess.run(["umount", str(mountpoint)], check=True)  # as a reboot leaves it
        assert local_disks.ensure(mountpoint, 64) is True
        assert (mountpoint / "kept").read_text() == "survives a remount"
        filler = mountpoint / "filler"
        with pytest.raises(OSError, match="No space left on device"), filler.open("wb") as f:
            for _ in range(80):
                f.write(b"\0" * 2**20)
                f.flush()
                os.fsync(f.fileno())
    finally:
        local_disks.release(mountpoint)
    assert not mountpoint.exists() and not local_disks.image_of(mountpoint).exists()


def test_a_disk_too_small_is_refused_with_its_size(tmp_path) -> None:
    with pytest.raises(local_disks.DiskError, match="a disk of 8 MB is too small"):
        local_disks.ensure(tmp_path / "tiny", 8)

"""`up` refuses to start a stack on a disk that a run would fill, naming the folder and the need."""

from __future__ import annotations

import shutil
from collections import namedtuple
from types import SimpleNamespace

import pytest

from harness.provisioning import engine

Usage = namedtuple("Usage", "total used free")


def _client(root: str) -> SimpleNamespace:
    return SimpleNamespace(info=lambda: {"DockerRootDir": root})


def test_too_little_space_is_refused_with_the_folder_and_the_need(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(100 * 2**30, 99 * 2**30, 2**30))
    with pytest.raises(engine.DiskSpaceError, match=r"/data/docker: 1.0 GiB free, .* at least 4 GiB"):
        engine.check_free_space(_client("/data/docker"))


def test_enough_space_passes_and_reports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(shutil, "disk_usage", lambda path: seen.append(path) or Usage(0, 0, 50 * 2**30))
    assert engine.check_free_space(_client("/var/lib/docker")) == pytest.approx(50)
    assert seen == ["/var/lib/docker"]

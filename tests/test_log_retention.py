"""The log host's retention job: a day's file goes only once that day is older than the retention."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "images/log/rootfs/usr/local/lib/ihh/log_retention.py"
spec = importlib.util.spec_from_file_location("log_retention", SCRIPT)
log_retention = importlib.util.module_from_spec(spec)
spec.loader.exec_module(log_retention)
TODAY = dt.date(2026, 11, 25)


def day_file(root: Path, host: str, day: dt.date) -> Path:
    path = root / host / f"{day.isoformat()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("line\n")
    return path


def test_only_days_older_than_the_retention_are_removed(tmp_path: Path) -> None:
    keep = [day_file(tmp_path, "app-1", TODAY - dt.timedelta(days=d)) for d in (0, 1, 179, 180)]
    old = [day_file(tmp_path, h, TODAY - dt.timedelta(days=d)) for h, d in (("db-1", 181), ("app-1", 400))]
    stray = tmp_path / "db-1" / "notes.log"
    stray.write_text("not a day file\n")
    assert log_retention.prune(tmp_path, 180, TODAY) == 2
    assert all(p.exists() for p in [*keep, stray]) and not any(p.exists() for p in old)


def test_a_retention_under_six_months_is_refused(tmp_path: Path) -> None:
    day_file(tmp_path, "app-1", TODAY - dt.timedelta(days=100))
    with pytest.raises(ValueError, match="keep_days: must be at least 180"):
        log_retention.prune(tmp_path, 90, TODAY)

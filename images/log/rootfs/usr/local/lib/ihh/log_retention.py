"""Keep every host's logs at least ``keep_days``: remove a day's file only once that day is older.

Files are ``<directory>/<host>/<YYYY-MM-DD>.log`` as the log host's rsyslog writes them. A file whose
name is not a date is never touched; a retention under 180 days is refused (MLPS level 3).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from pathlib import Path

MIN_KEEP_DAYS = 180
PASS_INTERVAL_S = 3600


def expired(directory: Path, keep_days: int, today: dt.date) -> list[Path]:
    """Day files older than ``keep_days`` before ``today``, oldest first."""
    if keep_days < MIN_KEEP_DAYS:
        raise ValueError(f"keep_days: must be at least {MIN_KEEP_DAYS} (MLPS level 3), got {keep_days}")
    cutoff = today - dt.timedelta(days=keep_days)
    old = []
    for path in directory.glob("*/*.log"):
        try:
            day = dt.date.fromisoformat(path.stem)
        except ValueError:
            continue
        if day < cutoff:
            old.append((day, path))
    return [path for _day, path in sorted(old)]


def prune(directory: Path, keep_days: int, today: dt.date) -> int:
    removed = expired(directory, keep_days, today)
    for path in removed:
        path.unlink()
        print(f"log-retention: removed {path} (older than {keep_days} days)", flush=True)
    return len(removed)


def main(config_file: str) -> None:
    config = json.loads(Path(config_file).read_text())
    directory, keep_days = Path(config["directory"]), int(config["keep_days"])
    print(f"log-retention: keeping {directory} for {keep_days} days", flush=True)
    stop = threading.Event()
    while not stop.is_set():
        prune(directory, keep_days, dt.date.today())
        stop.wait(PASS_INTERVAL_S)  # the job's schedule: one pass an hour


if __name__ == "__main__":
    main(sys.argv[1])

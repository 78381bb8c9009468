"""Least privilege for drills: the files that let the ops account run the drill wrapper as root, and nothing else.

Every host gets ``/usr/local/sbin/ihh-drill`` (``infra/ihh_drill.py``, with the paths and names below
filled in) and a sudoers file that lists that one command. The host-side marks a drill leaves for
``harness chaos --cleanup`` are named here too, since the wrapper is what writes and removes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from infra.backup_sites import SCHEDULE_LOG, SCHEDULE_PATH
from infra.database import DATA_DIR, SERVICE_SCHEMA_PATH, WAL_DIR
from infra.host_probes import PROBES
from infra.log_host import FORWARD_CONF, LOG_DIR, RETENTION_FILE, SERVER_CONF
from infra.model import OPS_USER, ROLE_SERVICES, File

WRAPPER = "/usr/local/sbin/ihh-drill"
SUDOERS_DIR = "/etc/sudoers.d"
STATE_DIR = "/var/lib/ihh-harness"
HELD_MARK = f"{STATE_DIR}/services-held"
"""On a host whose services a crash holds stopped: their names, written before the kill, removed once they are
started again; ``harness chaos --cleanup`` looks for it (a cheap read) instead of asking every service manager."""
CLOCK_STEP_MARK = f"{STATE_DIR}/clock-step"
"""The step (seconds) a clock-step drill applied to a host's clock, written before the step."""
FILLER = f"{WAL_DIR}/ihh-drill-filler"
"""The file the wal-disk-full drill fills the disk with (beside pg_wal, on the same filesystem)."""
ARCHIVE_SPOOL = "/var/spool/pgbackrest/archive"
PG_BIN = "/usr/lib/postgresql/15/bin"
PATRONI_CONFIG = "/etc/patroni/patroni.yml"
RESTORE_LOG = "/var/log/postgresql/restore-drill.log"
RULE_TAG = "ihh-drill"
"""Prefix of the comment on every iptables rule a drill adds: ``ihh-drill:<what>``."""
QDISC_HANDLE = "1ab:"
"""Handle of every root qdisc a drill adds."""
QDISC_LEAF_HANDLE = "1ac:"
"""Handle of a qdisc a drill hangs under a class of its root qdisc (the UDP squeeze's token bucket)."""
PGBACKREST_COMMANDS = ("info", "check", "backup", "verify", "restore", "expire", "stanza-create")
READABLE = ("/etc/os-release", "/etc/ihh/", "/etc/pgbackrest/pgbackrest.conf", "/etc/rsyslog.d/", "/opt/ihh/",
            f"{STATE_DIR}/", SCHEDULE_PATH, SCHEDULE_LOG, RETENTION_FILE, SERVER_CONF, FORWARD_CONF)
"""Files whose content drills and checks read as root (configuration, the harness's marks, os-release for
testinfra's system detection); never a key."""


def settings() -> dict[str, object]:
    """What the wrapper needs to know of this project's hosts (rendered into it)."""
    services = [s for role in ROLE_SERVICES.values() for s in role]
    return {
        "data_dir": DATA_DIR, "wal_dir": WAL_DIR, "pg_bin": PG_BIN, "patroni_config": PATRONI_CONFIG,
        "restore_log": RESTORE_LOG, "archive_spool": ARCHIVE_SPOOL, "filler": FILLER, "held_mark": HELD_MARK,
        "clock_mark": CLOCK_STEP_MARK, "tag": RULE_TAG, "qdisc_handle": QDISC_HANDLE,
        "qdisc_leaf_handle": QDISC_LEAF_HANDLE, "log_dir": LOG_DIR,
        "readable": list(READABLE), "pgbackrest_commands": list(PGBACKREST_COMMANDS),
        "probes": sorted(hashlib.sha256(p.encode()).hexdigest() for p in PROBES),
        "services": {"supervisor": sorted({s.supervisor for s in services}),
                     "systemd": sorted({s.systemd for s in services})},
        "service_users": sorted({s.user for s in services if s.user}),
        "service_schema": SERVICE_SCHEMA_PATH, "service_database": "ihh", "service_owner": "ihh_owner",
    }


def wrapper_text() -> str:
    """``infra/ihh_drill.py`` with its settings filled in, stamped with a version (a hash of the result)."""
    source = (Path(__file__).parent / "ihh_drill.py").read_text(encoding="utf-8")
    marker = "SETTINGS: dict = {}  # rendered by infra/drill_access.py"
    if marker not in source:
        raise RuntimeError(f"infra/ihh_drill.py lost its settings line {marker!r}")
    rendered = source.replace(marker, f"SETTINGS: dict = {json.dumps(settings(), sort_keys=True)}")
    version = hashlib.sha256(rendered.encode()).hexdigest()[:16]
    return rendered.replace('SETTINGS: dict = {"', f'SETTINGS: dict = {{"version": "{version}", "', 1)


def wrapper_version(text: str | None = None) -> str:
    """The version stamped in the rendered wrapper: what ``ihh-drill --version`` prints on a current host."""
    return json.loads((text or wrapper_text()).split("SETTINGS: dict = ", 1)[1].split("\n", 1)[0])["version"]


def sudoers_text(user: str = OPS_USER) -> str:
    return (f"# Installed by the stack: {user} may run the drill wrapper as root, and nothing else.\n"
            f"Defaults:{user} !requiretty, !lecture\n"
            f"{user} ALL=(root) NOPASSWD: {WRAPPER}\n")


def drill_access_files(user: str = OPS_USER) -> tuple[File, ...]:
    """The wrapper and the sudoers file every host of the stack gets."""
    return (File(WRAPPER, wrapper_text(), mode="0755"),
            File(f"{SUDOERS_DIR}/{user}", sudoers_text(user), mode="0440"))

"""Backup sites: one complete, encrypted pgBackRest repository per off-site location.

Each site is a repository host in its own mainland region, reached by the database
hosts over mutual TLS (pgBackRest's TLS server). The repository is encrypted with a
generated passphrase and keeps full backups for the configured number of days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from infra.config import BackupSchedule, Site
from infra.database import (
    DATA_DIR,
    PGBACKREST_TLS_PORT,
    STANZA,
    TLS_DIR,
    BackupRepository,
    pgbackrest_peer,
    pgbackrest_server,
)
from infra.model import LABEL_PREFIX, File, Healthcheck, Host, HostSpec, Platform
from infra.secrets import StackSecrets

REPO_PATH = "/var/lib/pgbackrest/repo"
SCHEDULE_PATH = "/etc/ihh/backup-schedule.json"
SCHEDULE_LOG = "/var/lib/pgbackrest/ihh-schedule.jsonl"
"""One JSON line per scheduled run, on the repository's volume so it outlives a replaced host."""
TICK_S = 30
CIPHER_TYPE = "aes-256-cbc"


@dataclass
class BackupSitesArgs:
    """The sites, the database hosts they back up, retention and keys."""

    platform: Platform
    sites: tuple[Site, ...]
    host_names: dict[str, str]
    database_hosts: tuple[str, ...]
    retention_days: int
    schedule: BackupSchedule
    secrets: StackSecrets
    depends_on: list[pulumi.Resource]


def schedule_config(index: int, schedule: BackupSchedule) -> str:
    """What the copy's own timer reads: its repository, the intervals, where it logs each run."""
    return json.dumps({
        "stanza": STANZA, "repository": index, "full_s": schedule.full_s, "diff_s": schedule.diff_s,
        "incr_s": schedule.incr_s, "slack_s": schedule.slack_s, "tick_s": min(TICK_S, schedule.incr_s),
        "retry_s": max(min(TICK_S, schedule.incr_s), min(600, schedule.incr_s // 4)), "log": SCHEDULE_LOG,
    }, indent=1, sort_keys=True)


def repository_config(index: int, database_hosts: tuple[str, ...], retention_days: int, cipher_pass: str) -> str:
    """pgBackRest on a repository host: its own repository, and how to reach every database host."""
    lines = [
        "[global]",
        f"repo{index}-path={REPO_PATH}",
        f"repo{index}-cipher-type={CIPHER_TYPE}",
        f"repo{index}-cipher-pass={cipher_pass}",
        f"repo{index}-retention-full-type=time",
        f"repo{index}-retention-full={retention_days}",
        "start-fast=y",
        # like the database hosts: a cut-off database host fails a scheduled backup in about a minute, so the
        # copy's timer logs it and retries, instead of hanging on the connection for half an hour
        "io-timeout=10",
        *pgbackrest_server(database_hosts),
        "",
        f"[{STANZA}]",
    ]
    for n, host in enumerate(database_hosts, start=1):
        lines += [*pgbackrest_peer(f"pg{n}", host), f"pg{n}-path={DATA_DIR}"]
    return "\n".join([*lines, ""])


class BackupSites(pulumi.ComponentResource):
    """One repository host per site; ``repositories`` is what the database hosts push to."""

    hosts: list[Host]
    repositories: list[BackupRepository]

    def __init__(self, name: str, args: BackupSitesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:backup:BackupSites", name, None, opts)
        self.hosts = []
        self.repositories = []
        for index, site in enumerate(args.sites, start=1):
            host_name = args.host_names[site.name]
            cert = args.secrets.host_certificate(host_name)
            config = args.secrets.passwords["backup-cipher"].apply(
                lambda cipher, index=index: repository_config(
                    index, args.database_hosts, args.retention_days, cipher
                )
            )
            self.hosts.append(
                args.platform.host(
                    HostSpec(
                        name=host_name,
                        roles=("backup",),
                        site=site,
                        image="backup",
                        ordinal=index,
                        networks=("backup",),
                        files=(
                            File("/etc/pgbackrest/pgbackrest.conf", config, owner="pgbackrest", mode="0600"),
                            File(SCHEDULE_PATH, schedule_config(index, args.schedule)),
                            File(f"{TLS_DIR}/ca.crt", args.secrets.ca_cert_pem),
                            File(f"{TLS_DIR}/host.crt", cert.cert_pem),
                            File(f"{TLS_DIR}/host.key", cert.key_pem, owner="pgbackrest", mode="0600"),
                        ),
                        volumes=(("repo", "/var/lib/pgbackrest"),),
                        healthcheck=Healthcheck(("ihh-probe", "tcp", "127.0.0.1", str(PGBACKREST_TLS_PORT))),
                        labels={
                            f"{LABEL_PREFIX}backup.repository": str(index),
                            f"{LABEL_PREFIX}backup.retention-days": str(args.retention_days),
                            f"{LABEL_PREFIX}backup.cipher": CIPHER_TYPE,
                            f"{LABEL_PREFIX}backup.complete-copy": "true",
                        },
                    ),
                    parent=self,
                    depends_on=args.depends_on,
                )
            )
            self.repositories.append(BackupRepository(index=index, host=host_name))
        self.register_outputs({"sites": [s.name for s in args.sites]})

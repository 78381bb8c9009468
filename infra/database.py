"""The database tier: PostgreSQL 15 under Patroni, a 3-member etcd, WAL to every backup repository.

Patroni (Debian's package) promotes the standby when the primary's leader key in
etcd expires; the service reaches whichever host is writable through libpq's
multi-host connection string with ``target_session_attrs=read-write``. Every link
is TLS, verified against the stack's CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import yaml

from infra.config import WATCHDOG_SAFETY_MARGIN_S, DatabaseConfig, Site
from infra.model import Disk, File, Healthcheck, Host, HostSpec, Platform, Port
from infra.secrets import StackSecrets

DATA_DIR = "/var/lib/postgresql/data/pgdata"
TLS_DIR = "/etc/ihh/tls"
STANZA = "main"
PATRONI_PORT = 8008
PATRONI_REST_USER = "patroni"
"""Basic-auth user for Patroni's unsafe REST methods (POST, PUT, PATCH, DELETE); the password is generated."""
POSTGRES_PORT = 5432
MAX_LAG_ON_FAILOVER = 1048576
"""Bytes of WAL a standby may lag behind and still be promoted (Patroni's maximum_lag_on_failover)."""
WAL_DIR = "/var/lib/postgresql/wal"
"""The mount point of the WAL disk; PGDATA/pg_wal links to ``WAL_DIR``/pg_wal (initdb and basebackup --waldir)."""
WAL_DISK_MB = 2048
"""The WAL disk: a filesystem of its own, so WAL that piles up stops PostgreSQL and nothing else, and a drill
can fill it. In prod the cloud's smallest data disk (20 GiB) is used, which is larger."""
STANDBY_ARCHIVE_WAIT_S = 10
"""How long a standby's restore_command waits on pgBackRest's async archive-get before it tries streaming."""
WAL_SIZING = {"max_wal_size": "256MB", "min_wal_size": "64MB", "wal_keep_size": "64MB", "wal_recycle": "off",
              "max_slot_wal_keep_size": "384MB"}
"""A rejoining primary's pg_rewind (PostgreSQL 15) copies the new primary's whole pg_wal: at the defaults (1 GB
max_wal_size, recycled segments kept) and 256 MB wal_keep_size that was ~900 MB and 20-23 s of every rejoin.
Standbys keep their place by replication slots (use_slots), not by wal_keep_size; a slot of a standby that is
down holds WAL only up to ``max_slot_wal_keep_size``, so it cannot fill the WAL disk (the standby then needs
a rebuild instead). max_wal_size + max_slot_wal_keep_size stays well inside ``WAL_DISK_MB``. Converged by ``up``."""
WAL_RECEIVER_TIMEOUT = "10s"
"""How long a standby's walreceiver waits on a silent upstream. It also bounds a wait that ignores shutdown:
PostgreSQL 15.20's walreceiver, asked for a start point up to a segment ahead of the new primary's flush
position (a crashed primary restarted as a standby, the wal-disk-full drill), waits for the upstream to catch
up for wal_receiver_timeout and does not stop on a fast shutdown meanwhile; Patroni's stop before pg_rewind
waited out the default 60 s ("terminating walreceiver due to timeout while waiting for upstream to catch up";
CI: whole 69.6 s after the heal). The walreceiver asks the primary for a reply after half of it, so 10 s only
ends a connection that is really silent."""
WAL_SENDER_TIMEOUT = "10s"
"""How long a primary's walsender waits on a silent standby. It bounds a primary's own fast shutdown: the
shutdown waits for each walsender to send the shutdown checkpoint, and one whose standby is cut off waits
until this timeout ends it. At the default 60 s, a primary partitioned by REJECT rules (its standby's side
reset, its own retransmissions refused) that Patroni demoted 4 s in was still shutting down when the
partition healed 17 s later, and stopped only when a retransmission reached the standby and was reset:
whole 17.8-28.2 s after the heal (5 runs), against 11.1-13.1 s under DROP. Like ``wal_receiver_timeout``,
the walsender asks for a reply after half of it, so 10 s only ends a connection that is really silent."""
REPLICATION_PARAMETERS = {**WAL_SIZING, "wal_receiver_timeout": WAL_RECEIVER_TIMEOUT,
                          "wal_sender_timeout": WAL_SENDER_TIMEOUT}
"""The PostgreSQL parameters that ``up`` converges on a running cluster (all reloadable)."""
PG_LOG_DIR = "/var/log/postgresql"
"""PostgreSQL's log files (the logging collector's), tailed by rsyslog for the log host."""
PRIMARY_START_TIMEOUT_S = 0
"""A primary whose PostgreSQL crashed is failed over at once, if a synchronous standby can take over, instead of
being restarted for up to 300 s (Patroni's default): a crash from a full WAL disk recurs at every restart (the
wal-disk-full drill). Synchronous replication makes the failover lose no acknowledged write."""
FAILSAFE_MODE = True
"""Patroni keeps its leader through a DCS outage while every member answers its POST /failsafe (the
dcs-quorum-loss drill): without it, losing etcd's quorum stops every write though PostgreSQL is healthy."""
SERVICE_SCHEMA = Path(__file__).resolve().parents[1] / "images" / "app" / "rootfs" / "opt" / "ihh" / "app" / \
    "ihh_service" / "schema.sql"
"""The reference service's schema: applied at bootstrap by the database tier, as the schema's owner role."""
SERVICE_SCHEMA_PATH = "/etc/ihh/schema.sql"
"""Where each database member holds it: bootstrap applies it, and every ``up`` again (``ihh-apply-schema``)."""
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_HEALTH_PORT = 2381
"""etcd's /health and /metrics on loopback only: the client port demands a client certificate."""
PGBACKREST_TLS_PORT = 8432
ETCD_CIPHERS = ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305")
"""TLS 1.2 suites etcd may use with the stack's ECDSA certificates (TLS 1.3 suites are not configurable)."""


@dataclass
class BackupRepository:
    """One pgBackRest repository, as the database hosts address it."""

    index: int
    host: str


@dataclass
class DatabaseArgs:
    """Hosts, timing and the repositories WAL and backups go to."""

    platform: Platform
    site: Site
    config: DatabaseConfig
    database_hosts: tuple[str, ...]
    dcs_hosts: tuple[str, ...]
    repositories: list[BackupRepository]
    secrets: StackSecrets
    depends_on: list[pulumi.Resource]


def etcd_env(name: str, members: tuple[str, ...], cluster_token: str) -> str:
    """etcd reads its whole configuration from ETCD_* variables: TLS to clients and peers, certificates required.

    Only holders of a certificate of the stack's CA (the database hosts, the other members) may read or
    write the cluster state; without it anyone on the network could take the leader key.
    """
    cluster = ",".join(f"{m}=https://{m}:{ETCD_PEER_PORT}" for m in members)
    tls = {"CERT_FILE": f"{TLS_DIR}/host.crt", "KEY_FILE": f"{TLS_DIR}/host.key",
           "TRUSTED_CA_FILE": f"{TLS_DIR}/ca.crt", "CLIENT_CERT_AUTH": "true"}
    values = {
        "ETCD_NAME": name,
        "ETCD_DATA_DIR": "/var/lib/etcd/data",
        "ETCD_LISTEN_CLIENT_URLS": f"https://0.0.0.0:{ETCD_CLIENT_PORT}",
        "ETCD_ADVERTISE_CLIENT_URLS": f"https://{name}:{ETCD_CLIENT_PORT}",
        "ETCD_LISTEN_PEER_URLS": f"https://0.0.0.0:{ETCD_PEER_PORT}",
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"https://{name}:{ETCD_PEER_PORT}",
        "ETCD_LISTEN_METRICS_URLS": f"http://127.0.0.1:{ETCD_HEALTH_PORT}",
        **{f"ETCD_{k}": v for k, v in tls.items()},
        **{f"ETCD_PEER_{k}": v for k, v in tls.items()},
        "ETCD_CIPHER_SUITES": ",".join(ETCD_CIPHERS),
        "ETCD_INITIAL_CLUSTER": cluster,
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_INITIAL_CLUSTER_TOKEN": cluster_token,
        "ETCD_HEARTBEAT_INTERVAL": "200",
        "ETCD_ELECTION_TIMEOUT": "2000",
    }
    return "".join(f"{k}={v}\n" for k, v in values.items())


def patroni_config(
    scope: str,
    name: str,
    args: DatabaseArgs,
    passwords: dict[str, str],
) -> str:
    """Patroni's YAML for one member; passwords are filled in at apply time, never in the repo.

    Members reach each other's REST API by their address on the control-plane network: on the
    network they share with the app tier only PostgreSQL's port is admitted.
    """
    control = args.platform.address_on(name, "db")
    timing = args.config.failover
    ssl = {"sslmode": "verify-full", "sslrootcert": f"{TLS_DIR}/ca.crt"}
    document = {
        "scope": scope,
        "name": name,
        # The control plane over TLS, and every unsafe method authenticated: an unauthenticated PATCH /config
        # could set archive_command, which runs as postgres.
        "restapi": {
            "listen": f"0.0.0.0:{PATRONI_PORT}", "connect_address": f"{control}:{PATRONI_PORT}",
            "certfile": f"{TLS_DIR}/host.crt", "keyfile": f"{TLS_DIR}/host.key", "cafile": f"{TLS_DIR}/ca.crt",
            "authentication": {"username": PATRONI_REST_USER, "password": passwords["patroni-rest"]},
        },
        # patronictl and the members' calls to each other verify the members' certificates.
        "ctl": {"cacert": f"{TLS_DIR}/ca.crt", "certfile": f"{TLS_DIR}/host.crt", "keyfile": f"{TLS_DIR}/host.key",
                "authentication": {"username": PATRONI_REST_USER, "password": passwords["patroni-rest"]}},
        # use_proxies: the members are the ones listed here (the stack declares them), so Patroni never asks etcd
        # for its member list. Without it, every failed call was followed by a member-list refresh that waits out
        # its timeout on each cut-off member in turn: with a majority partitioned (dcs-quorum-partition) one loop
        # of the leader ran 8 s and its watchdog reset a primary that failsafe mode would have kept.
        "etcd3": {"hosts": [f"{h}:{ETCD_CLIENT_PORT}" for h in args.dcs_hosts], "protocol": "https",
                  "use_proxies": True,
                  "cacert": f"{TLS_DIR}/ca.crt", "cert": f"{TLS_DIR}/host.crt", "key": f"{TLS_DIR}/host.key"},
        # Required: a member that cannot arm its watchdog never becomes leader, so an isolated leader always
        # stops before its key expires, however long its DCS calls hang (the DROP partition drill).
        "watchdog": {"mode": "required", **args.platform.host_watchdog, "safety_margin": WATCHDOG_SAFETY_MARGIN_S},
        "bootstrap": {
            "dcs": {
                "ttl": timing.ttl,
                "loop_wait": timing.loop_wait,
                "retry_timeout": timing.retry_timeout,
                "maximum_lag_on_failover": MAX_LAG_ON_FAILOVER,
                "synchronous_mode": args.config.synchronous,
                "failsafe_mode": FAILSAFE_MODE,
                "primary_start_timeout": PRIMARY_START_TIMEOUT_S,
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_log_hints": "on",
                        "archive_mode": "on",
                        "archive_command": f"pgbackrest --stanza={STANZA} archive-push %p",
                        "archive_timeout": 60,
                        "password_encryption": "scram-sha-256",
                        "log_connections": "on",
                        "log_disconnections": "on",
                        "shared_buffers": "128MB",
                        **REPLICATION_PARAMETERS,
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums", {"waldir": f"{WAL_DIR}/pg_wal"}],
            "post_bootstrap": "/usr/local/lib/ihh/post-bootstrap",
        },
        "postgresql": {
            "listen": f"0.0.0.0:{POSTGRES_PORT}",
            "connect_address": f"{name}:{POSTGRES_PORT}",
            "use_unix_socket": True,
            "data_dir": DATA_DIR,
            "bin_dir": "/usr/lib/postgresql/15/bin",
            "pgpass": "/var/lib/postgresql/.pgpass-patroni",
            # A standby clones without waiting for a spread checkpoint on the primary.
            "basebackup": [{"checkpoint": "fast"}, {"waldir": f"{WAL_DIR}/pg_wal"}],
            # A demoted primary whose pg_rewind cannot run (its shutdown checkpoint removed the WAL back to
            # the last common checkpoint: seen after a REJECT partition, "could not open file .../pg_wal/...")
            # is cloned afresh instead of retrying streaming from a timeline it forked off, for ever.
            "remove_data_directory_on_rewind_failure": True,
            # A standby (a rewound old primary above all) replays from the archive what the primary no longer
            # keeps: wal_keep_size is small so that pg_rewind is quick, and a crashed primary's replacement
            # may have recycled the segment its old primary needs next (seen: "requested WAL segment ... has
            # already been removed", the member stuck "starting" for good). pgBackRest tries each copy in turn.
            # A standby asks the archive before each attempt to stream, and archive-get's async mode waits up to
            # archive-timeout (60 s by default) for its background fetch: one stuck on a cut-off copy held a
            # rejoin 60 s (CI: the wal-disk-full drill whole 77 s after the heal). A standby that misses the
            # archive just streams, so it waits STANDBY_ARCHIVE_WAIT_S; a restore (pgBackRest writes its own
            # restore_command) keeps the full wait, since there a miss would end recovery early.
            "recovery_conf": {"restore_command": f"pgbackrest --stanza={STANZA} --archive-timeout="
                                                 f'{STANDBY_ARCHIVE_WAIT_S} archive-get %f "%p"'},
            "authentication": {
                "superuser": {"username": "postgres", "password": passwords["db-superuser"], **ssl},
                "replication": {"username": "replicator", "password": passwords["db-replication"], **ssl},
                "rewind": {"username": "postgres", "password": passwords["db-superuser"], **ssl},
            },
            "parameters": {
                "unix_socket_directories": "/var/run/postgresql",
                "ssl": "on",
                "ssl_cert_file": f"{TLS_DIR}/host.crt",
                "ssl_key_file": f"{TLS_DIR}/host.key",
                "ssl_ca_file": f"{TLS_DIR}/ca.crt",
                "ssl_min_protocol_version": "TLSv1.2",
                # Connections, disconnections and errors go to files that rsyslog tails (imfile) and ships
                # to the log host. Not syslog(): PostgreSQL 15's die() handler can log from inside a
                # syslog() call that a backend's own log line was blocked in, and deadlocks on glibc's
                # syslog lock; seen in the partition drill as a backend that never exited and a primary
                # stuck "shutting down" past the heal. The collector's pipe takes no lock.
                "logging_collector": "on",
                "log_destination": "stderr",
                "log_directory": PG_LOG_DIR,
                "log_filename": "postgresql-%a.log",  # a week's ring here; the log host keeps 180 days
                "log_truncate_on_rotation": "on",
                "log_rotation_age": "1d",
                "log_rotation_size": 0,
                "log_file_mode": "0640",
            },
            "pg_hba": [
                "local all all peer",
                "hostssl replication replicator samenet scram-sha-256",
                "hostssl all all samenet scram-sha-256",
                "hostnossl all all all reject",
            ],
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }
    return yaml.safe_dump(document, sort_keys=False)


def pgbackrest_peer(prefix: str, host: str) -> list[str]:
    """Options that reach a remote pgBackRest (``repoN`` or ``pgN``) over mutual TLS with this host's cert."""
    return [
        f"{prefix}-host={host}",
        f"{prefix}-host-type=tls",
        f"{prefix}-host-port={PGBACKREST_TLS_PORT}",
        f"{prefix}-host-ca-file={TLS_DIR}/ca.crt",
        f"{prefix}-host-cert-file={TLS_DIR}/host.crt",
        f"{prefix}-host-key-file={TLS_DIR}/host.key",
    ]


def pgbackrest_server(authorized_hosts: list[str] | tuple[str, ...]) -> list[str]:
    """Options shared by every pgBackRest host: logging, and its TLS server open to named peers only."""
    return [
        "process-max=2",
        # lz4: restore is bound by decompression on small hosts; gz (the default) halves restore throughput.
        "compress-type=lz4",
        "log-level-console=info",
        "log-level-file=detail",
        "tls-server-address=*",
        f"tls-server-ca-file={TLS_DIR}/ca.crt",
        f"tls-server-cert-file={TLS_DIR}/host.crt",
        f"tls-server-key-file={TLS_DIR}/host.key",
        *[f"tls-server-auth={h}={STANZA}" for h in authorized_hosts],
    ]


def pgbackrest_db_config(name: str, args: DatabaseArgs, backup_hosts: list[str]) -> str:
    """pgBackRest on a database host: push WAL to every repository over mutual TLS."""
    lines = ["[global]"]
    for repo in args.repositories:
        lines += pgbackrest_peer(f"repo{repo.index}", repo.host)
    lines += [
        "archive-async=y",
        "spool-path=/var/spool/pgbackrest",
        # A cut-off repository must fail fast, or the async archiver waits on it (60 s by
        # default) before pushing to the copies that answer (drill: backup-site-unreachable).
        "io-timeout=10",
        *pgbackrest_server(backup_hosts),
        "",
        f"[{STANZA}]",
        f"pg1-path={DATA_DIR}",
        "pg1-socket-path=/var/run/postgresql",
        "",
    ]
    return "\n".join(lines)


class Database(pulumi.ComponentResource):
    """etcd members, then PostgreSQL members under Patroni, each with its own certificate."""

    members: list[Host]
    dcs: list[Host]
    scope: str

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ihh:database:Database", name, None, opts)
        self.scope = getattr(args.platform, "patroni_scope", None) or f"ihh-{args.platform.stack}"
        self.dcs = [
            args.platform.host(
                HostSpec(
                    name=dcs,
                    roles=("dcs",),
                    site=args.site,
                    image="dcs",
                    ordinal=i,
                    networks=("db",),
                    files=(File("/etc/ihh/etcd.env", etcd_env(dcs, args.dcs_hosts, self.scope)),
                           File(f"{TLS_DIR}/ca.crt", args.secrets.ca_cert_pem),
                           File(f"{TLS_DIR}/host.crt", cert.cert_pem),
                           File(f"{TLS_DIR}/host.key", cert.key_pem, owner="etcd", mode="0600")),
                    # A new volume name: a member's stored peer URLs are plain HTTP in an older volume.
                    volumes=(("etcd-tls", "/var/lib/etcd"),),
                    healthcheck=Healthcheck(("ihh-probe", "http", f"http://127.0.0.1:{ETCD_HEALTH_PORT}/health")),
                ),
                parent=self,
                depends_on=args.depends_on,
            )
            for i, dcs in enumerate(args.dcs_hosts, start=1)
            for cert in (args.secrets.host_certificate(dcs),)
        ]
        backup_hosts = [r.host for r in args.repositories]
        self.members = []
        for i, member in enumerate(args.database_hosts, start=1):
            cert = args.secrets.host_certificate(member, extra_names=(args.platform.address_on(member, "db"),))
            patroni = pulumi.Output.all(**args.secrets.passwords).apply(
                lambda pw, member=member: patroni_config(self.scope, member, args, pw)
            )
            self.members.append(
                args.platform.host(
                    HostSpec(
                        name=member,
                        roles=("database",),
                        site=args.site,
                        image="database",
                        ordinal=i,
                        # "db" first: the engine publishes ports on a container's first network, so the
                        # operators' published ports do not arrive on "sql", where only 5432 is admitted.
                        networks=("db", "sql", "backup"),
                        admit_only=(("sql", (POSTGRES_PORT,)),),
                        ports=(Port("postgres", POSTGRES_PORT), Port("patroni", PATRONI_PORT)),
                        files=(
                            File("/etc/patroni/patroni.yml", patroni, owner="postgres", mode="0600"),
                            File("/etc/pgbackrest/pgbackrest.conf",
                                 pgbackrest_db_config(member, args, backup_hosts), owner="postgres", mode="0640"),
                            File(f"{TLS_DIR}/ca.crt", args.secrets.ca_cert_pem),
                            File(f"{TLS_DIR}/host.crt", cert.cert_pem),
                            File(f"{TLS_DIR}/host.key", cert.key_pem, owner="postgres", mode="0600"),
                            File("/etc/ihh/secrets/db-app-password", args.secrets.passwords["db-app"],
                                 owner="postgres", mode="0400"),
                            File(SERVICE_SCHEMA_PATH, SERVICE_SCHEMA.read_text()),
                        ),
                        volumes=(("pgdata", "/var/lib/postgresql/data"),),
                        disks=(Disk("wal", WAL_DIR, WAL_DISK_MB),),
                        healthcheck=Healthcheck(
                            ("ihh-probe", "http", f"https://127.0.0.1:{PATRONI_PORT}/health", "200",
                             f"{TLS_DIR}/ca.crt"), retries=12,
                        ),
                        labels={"ihh.database.scope": self.scope},
                    ),
                    parent=self,
                    depends_on=[*args.depends_on, *[h.resource for h in self.dcs]],
                )
            )
        self.register_outputs({"members": [m.name for m in self.members], "scope": self.scope})

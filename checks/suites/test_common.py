"""Facts every host must hold, whatever its role."""

from __future__ import annotations

import functools
import shlex
import time
import uuid

import pytest

from checks.suites.facts import optional_text, path_facts
from harness.core.ssh import run
from harness.core.waiting import WaitTimeoutError, wait_for
from infra.av_nodes import RELAY_PORTS, TURN_PORT
from infra.docker_platform import MEDIA_LINE_API_PORT, MEDIA_LINE_LISTEN_BASE, UPLINK_LISTEN_BASE
from infra.drill_access import WRAPPER, wrapper_version
from infra.log_host import FORWARD_CONF, LOG_PORT
from infra.regions import is_mainland_china
from infra.supervision import EGRESS_LISTEN_BASE, EGRESS_PORT, SIMULATOR_CONTROL_PORT, SIMULATOR_PORT

ROLE = None

SERVICES = {
    "app": {"service"},
    "database": {"patroni", "pgbackrest-server"},
    "dcs": {"etcd"},
    "ingress": {"haproxy"},
    "wan": {"toxiproxy"},
    "av": {"turnserver"},
    "backup": {"pgbackrest-server", "backup-scheduler"},
    "log": {"log-retention"},
}
ALLOWED_PORTS: dict[str, set[tuple[str, int]]] = {
    "app": {("tcp", 8080)},
    "database": {("tcp", 5432), ("tcp", 8008), ("tcp", 8432)},
    "dcs": {("tcp", 2379), ("tcp", 2380)},
    "ingress": {("tcp", 80), ("tcp", 443), ("tcp", EGRESS_PORT)},  # the relay of uploads to the platform
    "wan": {("tcp", 8474), *{("tcp", p) for p in range(UPLINK_LISTEN_BASE, UPLINK_LISTEN_BASE + 20)},
            # the media line: its API and one UDP port per TURN node
            ("tcp", MEDIA_LINE_API_PORT),
            *{("udp", p) for p in range(MEDIA_LINE_LISTEN_BASE, MEDIA_LINE_LISTEN_BASE + 20)},
            # the supervision platform's simulator: uploads, its control API, the lines' proxies to it
            ("tcp", SIMULATOR_PORT), ("tcp", SIMULATOR_CONTROL_PORT),
            *{("tcp", p) for p in range(EGRESS_LISTEN_BASE, EGRESS_LISTEN_BASE + 20)}},
    # coturn answers on TURN_PORT and on TURN_PORT + 1 (its RFC 5780 NAT-behaviour port), plus relays.
    "av": {(proto, port) for proto in ("tcp", "udp") for port in (TURN_PORT, TURN_PORT + 1)}
    | {("udp", port) for port in range(RELAY_PORTS[0], RELAY_PORTS[1] + 1)},
    "backup": {("tcp", 8432)},
    "log": {("tcp", LOG_PORT)},
}
LOOPBACK_ONLY_PORTS: dict[str, set[tuple[str, int]]] = {"dcs": {("tcp", 2381)}}
"""Allowed on 127.0.0.1 only: etcd's /health and /metrics (its client port demands a certificate)."""
DOCKER_RESOLVER = "127.0.0.11"
CLOCK_SKEW_LIMIT_S = 2.0
LOG_ARRIVAL_S = 15.0
"""How long a line may take from a host's syslog to the log host's disk (a queue retries every 5 s)."""
ROLE_LOG_LINES = {"database": ("PostgreSQL's connections", "connection authorized")}
"""Lines a role's host must have shipped besides sshd's: what MLPS audit asks of that role."""


@functools.cache
def _sshd(host) -> dict[str, str]:
    """sshd's effective configuration, read once per host and run: three checks judge it, and each read
    costs the host a root command (the wrapper, sshd parsing its whole configuration)."""
    lines = host.check_output("/usr/sbin/sshd -T").splitlines()
    return {k: v for k, _, v in (line.partition(" ") for line in lines)}


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_sshd_is_key_only(host, target) -> None:
    config = _sshd(host)
    for key, want in (("passwordauthentication", "no"), ("kbdinteractiveauthentication", "no"),
                      ("permitemptypasswords", "no"), ("pubkeyauthentication", "yes")):
        assert config.get(key) == want, f"{target.name}: sshd must be key-only: {key} is {config.get(key)!r}"


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2")
@pytest.mark.impact("critical")
def test_sshd_refuses_root(host, target) -> None:
    value = _sshd(host).get("permitrootlogin")
    assert value == "no", f"{target.name}: sshd must refuse root logins: permitrootlogin is {value!r}"


@pytest.mark.requirements("GD-4.3")
@pytest.mark.impact("medium")
def test_sshd_logs_every_login(host, target) -> None:
    value = _sshd(host).get("loglevel")
    assert value in ("VERBOSE", "DEBUG"), f"{target.name}: sshd must log key fingerprints: loglevel {value!r}"


@pytest.mark.requirements("GD-1.2.1", "GD-4.3")
@pytest.mark.impact("high")
def test_logs_reach_the_log_host_over_verified_tls(host, target, outputs, log_host) -> None:
    """A marker written to this host's syslog is found on the log host, beside sshd's logins (and the role's own)."""
    if target.name != outputs.log_host.name:
        config = optional_text(host, FORWARD_CONF) or ""
        for setting in ('StreamDriverMode="1"', 'StreamDriverAuthMode="x509/name"'):
            assert setting in config, (f"{target.name}: logs must reach the log host over verified TLS: "
                                       f"{FORWARD_CONF} lacks {setting}")
    token = uuid.uuid4().hex
    marker = f"ihh-log-check-{token}"
    host.run(f"logger -p authpriv.notice -t ihh-log-check {marker}")
    directory = outputs.log_host.directory
    # The pattern is not the marker's own text: the log host files the sudo line of this very grep too.
    pattern = shlex.quote(f"ihh-log-check[-]{token}")
    try:
        found = wait_for(f"{marker} on {outputs.log_host.name}",
                         lambda: log_host.run(f"grep -rlE {pattern} {shlex.quote(directory)}").stdout.split(),
                         timeout=LOG_ARRIVAL_S)
    except WaitTimeoutError:
        found = []
    assert found, (f"{target.name}: logs must reach the log host over verified TLS: a marker written to syslog "
                   f"never arrived in {outputs.log_host.name}:{directory} within {LOG_ARRIVAL_S:.0f} s")
    folder = shlex.quote(found[0].rsplit("/", 1)[0])
    expected = [("sshd's logins", "sshd"), *[ROLE_LOG_LINES[r] for r in target.roles if r in ROLE_LOG_LINES]]
    missing = [what for what, text in expected
               if log_host.run(f"grep -rqF {shlex.quote(text)} {folder}").rc != 0]
    assert not missing, (f"{target.name}: logs must reach the log host over verified TLS: {folder} holds the "
                         f"marker but not {', '.join(missing)}")


def _sudo_rules(listing: str) -> list[str]:
    """The command rules of ``sudo -l``'s output (after "may run the following commands")."""
    _, _, rules = listing.partition("may run the following commands")
    return [line.strip() for line in rules.splitlines()[1:] if line.strip()]


@pytest.mark.requirements("GD-1.2.1")
@pytest.mark.impact("critical")
def test_ops_account_may_sudo_the_drill_wrapper_only(host, target, outputs) -> None:
    """Least privilege: the account drills and checks log in with runs one command as root, the drill wrapper
    (which refuses all but the drills' own commands), and that wrapper is root's alone and current."""
    listing = run(host.backend.client, target.name, "sudo -n -l", check=False)
    rules = _sudo_rules(listing.stdout)
    assert rules == [f"(root) NOPASSWD: {WRAPPER}"], (
        f"{target.name}: {outputs.ssh_user} must be able to sudo only {WRAPPER}: "
        f"sudo -l lists {rules or listing.stderr.strip()}")
    wrapper = path_facts(host, WRAPPER)
    assert wrapper is not None and wrapper.user == "root" and wrapper.mode & 0o022 == 0, (
        f"{target.name}: {WRAPPER} must be root's and writable by root only: {wrapper or 'missing'}")
    found = run(host.backend.client, target.name, f"{WRAPPER} --version", check=False).stdout.strip()
    assert found == wrapper_version(), (f"{target.name}: {WRAPPER} is version {found}, this harness ships "
                                        f"{wrapper_version()}: install the current one (README, existing servers)")


@pytest.mark.requirements("GD-1.2.1")
@pytest.mark.impact("high")
def test_role_services_run(host, target) -> None:
    # the wrapper asks the manager itself (supervisorctl costs a host ~0.35 s of CPU, 15 hosts at once)
    listed = [line.split() for line in host.check_output("ihh-running").splitlines() if line.strip()]
    running = {name for _, name in listed}
    if any(manager == "systemd" for manager, _ in listed):
        # a real server: its own units for the declared services (Debian calls sshd's unit ssh)
        if "ssh" in running:
            running.add("sshd")
        expected = {"sshd", "rsyslog"} | {s.systemd for s in target.services}
    else:
        expected = {"sshd", "rsyslog"} | set().union(*(SERVICES[r] for r in target.roles))
    missing = expected - running
    assert not missing, f"{target.name}: role services must run: not running: {', '.join(sorted(missing))}"


@pytest.mark.requirements("GD-1.2.1", "EH-2.2.2")
@pytest.mark.impact("high")
def test_no_port_beyond_the_roles_list(host, target) -> None:
    allowed = {("tcp", 22)} | set().union(*(ALLOWED_PORTS[r] for r in target.roles))
    loopback = set().union(*(LOOPBACK_ONLY_PORTS.get(r, set()) for r in target.roles))
    extra = set()
    for line in host.check_output("ss -Htlnu").splitlines():
        fields = line.split()
        address, _, port = fields[4].rpartition(":")
        if address == DOCKER_RESOLVER:
            continue  # the container platform's own DNS resolver
        if (fields[0], int(port)) in loopback and address == "127.0.0.1":
            continue
        if (fields[0], int(port)) not in allowed:
            extra.add(f"{fields[0]}/{address}:{port}")
    assert not extra, f"{target.name}: listening beyond the role's allowed ports: {', '.join(sorted(extra))}"


@pytest.mark.requirements("TM-5.4", "GD-1.2.1")
@pytest.mark.impact("medium")
def test_clock_agrees_with_control_machine(host, target) -> None:
    before = time.time()
    remote = float(host.check_output("date +%s.%N"))
    after = time.time()
    skew = abs(remote - (before + after) / 2) - (after - before) / 2
    assert skew <= CLOCK_SKEW_LIMIT_S, (
        f"{target.name}: clock must agree within {CLOCK_SKEW_LIMIT_S} s: off by {skew:.2f} s"
    )


@pytest.mark.requirements("GD-1.2.3c")
@pytest.mark.impact("critical")
def test_declared_region_is_mainland_china(target) -> None:
    assert is_mainland_china(target.region), (
        f"{target.name}: every host must be in mainland China: declares region {target.region!r}"
    )

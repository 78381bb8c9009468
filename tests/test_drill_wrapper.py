"""The drill wrapper (the one command the ops account may sudo): every command the harness sends is one it
runs, and what a drill never sends (a shell, a key, an untagged rule) it refuses."""

from __future__ import annotations

import contextlib
import shlex
import socket
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.faults import UNSHAPED_MINOR, _udp_squeezed
from checks.suites.facts import STAT_FORMAT
from harness.core import services
from harness.core.outputs import StackOutputs
from harness.core.postgres_shell import PATRONICTL, psql
from harness.core.ssh import then
from harness.core.wal_disk import DEVICES_COMMAND, MAX_WAL_COMMAND, STATFS_COMMAND
from infra.database import DATA_DIR
from infra.drill_access import (
    FILLER,
    PG_BIN,
    QDISC_HANDLE,
    RESTORE_LOG,
    RULE_TAG,
    sudoers_text,
    wrapper_text,
    wrapper_version,
)
from infra.host_probes import PROBES
from tests.helpers import program


@pytest.fixture(scope="module")
def wrapper() -> types.ModuleType:
    """The wrapper as the stack renders it, loaded as a module (what runs on every host)."""
    module = types.ModuleType("ihh_drill_rendered")
    exec(compile(wrapper_text(), "ihh-drill", "exec"), module.__dict__)  # noqa: S102 - our own rendered file
    return module


def _allowed(wrapper: types.ModuleType, line: str) -> bool:
    try:
        wrapper.commands(shlex.split(line))
    except wrapper.RefusedError:
        return False
    return True


def _harness_commands() -> list[str]:
    database = StackOutputs.parse("local", program("local").outputs).hosts(role="database")[0]
    sent = [*services.crash_commands("supervisord", database.services),
            *services.crash_commands("systemd", database.services),
            services.stopped_command("supervisord", database.services),
            services.stopped_command("systemd", database.services),
            services.start_command("supervisord", database.services), services.DETECT, "ihh-held", "ihh-release"]
    sent += [f"{PATRONICTL} pause --wait", f"{PATRONICTL} resume --wait", psql("select pg_switch_wal()"),
             STATFS_COMMAND, DEVICES_COMMAND, MAX_WAL_COMMAND, f"fallocate -l 1048576 {FILLER}",
             f"fallocate -l 4096 {FILLER}-2", f"rm -f {FILLER} {FILLER}-2", "ihh-wal-fillers",
             "ihh-clock-step 300", "ihh-clock-step -300", "ihh-clock-mark", "ihh-clock-unmark", "date +%s",
             f"runuser -u postgres -- {PG_BIN}/pg_ctl -D {DATA_DIR} stop -m immediate",
             f"runuser -u postgres -- {PG_BIN}/pg_ctl -D {DATA_DIR} start -w -t 3600 -l {RESTORE_LOG}",
             "pkill -KILL -u postgres -f 'pgbackrest .*archive-(push|get)'", "ihh-pgdata-wipe", "ihh-pgdata-empty",
             "runuser -u pgbackrest -- pgbackrest --stanza=main --repo=2 --type=incr backup",
             "runuser -u pgbackrest -- pgbackrest --stanza=main --repo=1 --set=20260101-000000F info --output=json",
             "timeout 20 runuser -u postgres -- pgbackrest --stanza=main --repo=1 info --output=json",
             "runuser -u postgres -- pgbackrest --stanza=main --repo=1 restore --link-all",
             "iptables -S", f"iptables -I INPUT -s 10.1.2.3/32 -m comment --comment {RULE_TAG}:cut -j DROP",
             f"tc qdisc add dev eth0 root handle {QDISC_HANDLE} netem delay 100ms loss 1%",
             f"tc qdisc del dev eth0 root handle {QDISC_HANDLE}", "getent ahostsv4 db-2", "hostname -I",
             "cat /etc/ihh/backup-schedule.json", "grep -rhE 'action=booking[.]create record=1 ' /var/log/remote",
             "grep -rlE 'ihh-log-check[-]abc' /var/log/remote", "date +%s.%N", "stat -Lc %a /etc/ihh/tls/host.key",
             f"stat -Lc {shlex.quote(STAT_FORMAT)} /var/lib/etcd/data", "/usr/sbin/sshd -T", "ihh-running",
             *[f"python3 -c {shlex.quote(p)} '[]'" for p in PROBES]]
    return sent + _udp_squeeze_commands()


class _RecordingNetwork:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def run(self, *command: str, **options: object) -> None:
        self.lines.append(shlex.join(command))


def _udp_squeeze_commands() -> list[str]:
    """What the udp-rate fault sends below its root qdisc, as it sends it."""
    network = _RecordingNetwork()
    _udp_squeezed(64)(network, "eth0")  # type: ignore[arg-type]
    return [f"tc qdisc add dev eth0 root handle {QDISC_HANDLE} htb default {UNSHAPED_MINOR}", *network.lines]


def test_every_command_the_harness_sends_is_one_the_wrapper_runs(wrapper) -> None:
    refused = [line for line in _harness_commands() if not _allowed(wrapper, line)]
    assert not refused, f"the wrapper would refuse: {refused}"
    database = StackOutputs.parse("local", program("local").outputs).hosts(role="database")[0]
    crash = then(*services.crash_commands("supervisord", database.services))
    assert _allowed(wrapper, crash) and len(wrapper.commands(shlex.split(crash))) > 4, "one call, each command checked"


@pytest.mark.parametrize("line", [
    "sh -c id", "bash", "cat /etc/shadow", "cat -- /etc/ihh/tls/host.key", "cat /etc/ihh/../shadow",
    "iptables -F", "iptables -I INPUT -j DROP", "iptables -I INPUT -m comment --comment other -j DROP",
    "tc qdisc del dev eth0 root", "rm -rf /", f"rm -f {FILLER} /etc/passwd", "pkill -KILL -u root",
    "supervisorctl stop sshd", "systemctl stop sshd", "python3 -c 'import os; os.system(\"id\")'",
    "runuser -u postgres -- pgbackrest --stanza=main info --output=json;id", "date -s @0",
    "runuser -u root -- pgbackrest info", "true ';' sh -c id", "grep -rhE x /etc/shadow",
    "stat -Lc '%U %N' /etc/shadow", "supervisorctl status",
    "tc class add dev eth0 parent 1: classid 1:2 htb rate 1kbit", "tc filter add dev eth0 parent ffff: protocol ip",
    "tc qdisc add dev eth0 parent 1:2 handle 1ac: tbf rate 1kbit burst 1kb latency 1ms",
    f"tc class add dev eth0 parent {QDISC_HANDLE} classid 1:2 htb rate 1kbit", "tc filter del dev eth0",
])
def test_anything_else_is_refused(wrapper, line: str) -> None:
    assert not _allowed(wrapper, line), f"the wrapper would run {line!r}"


def test_an_iptables_batch_with_an_untagged_rule_is_refused(wrapper, monkeypatch) -> None:
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("*filter\n-I INPUT -j DROP\nCOMMIT\n"))
    with pytest.raises(wrapper.RefusedError, match="iptables-batch line"):
        wrapper._iptables_batch()


def test_sudoers_lists_the_wrapper_alone_and_the_version_is_stamped() -> None:
    rules = [line for line in sudoers_text().splitlines() if line and not line.startswith(("#", "Defaults"))]
    assert rules == ["ihh-ops ALL=(root) NOPASSWD: /usr/local/sbin/ihh-drill"]
    assert len(wrapper_version()) == 16 and wrapper_version() in wrapper_text()


ALL_PROCESS_INFO_ANSWER = (
    "<?xml version='1.0'?><methodResponse><params><param><value><array><data>"
    + "".join(f"<value><struct><member><name>name</name><value><string>{name}</string></value></member>"
              f"<member><name>pid</name><value><int>7</int></value></member>"
              f"<member><name>statename</name><value><string>{state}</string></value></member></struct></value>"
              for name, state in (("patroni", "RUNNING"), ("etcd", "STOPPED"), ("sshd", "RUNNING")))
    + "</data></array></value></param></params></methodResponse>")


@contextlib.contextmanager
def _supervisord_socket(path: Path, answer: bytes) -> Iterator[list[bytes]]:
    """A unix socket that reads one request and sends ``answer``, as supervisord's does; yields the requests."""
    requests: list[bytes] = []
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            requests.append(connection.recv(65536))
            connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield requests
    finally:
        thread.join(timeout=5)
        server.close()


def test_the_wrapper_asks_supervisord_over_its_socket_which_programs_run(wrapper, tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    body = ALL_PROCESS_INFO_ANSWER.encode()
    answer = b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    monkeypatch.setattr(wrapper, "SUPERVISOR_SOCKET", str(tmp_path / "supervisor.sock"))
    monkeypatch.setattr(wrapper, "_manager", lambda: "supervisord")
    with _supervisord_socket(tmp_path / "supervisor.sock", answer) as requests:
        assert wrapper._running() == 0
    assert capsys.readouterr().out.splitlines() == ["supervisord patroni", "supervisord sshd"], "RUNNING only, sorted"
    assert b"supervisor.getAllProcessInfo" in requests[0] and requests[0].startswith(b"POST /RPC2 ")


def test_without_an_answer_on_the_socket_the_wrapper_asks_supervisorctl(wrapper, tmp_path: Path,
                                                                        monkeypatch) -> None:
    asked: list[list[str]] = []

    def supervisorctl(argv: list[str], **_: object) -> types.SimpleNamespace:
        asked.append(argv)
        return types.SimpleNamespace(stdout="patroni  RUNNING  pid 7, uptime 0:01:00\netcd  FATAL  Exited too fast\n")

    monkeypatch.setattr(wrapper, "SUPERVISOR_SOCKET", str(tmp_path / "absent.sock"))
    monkeypatch.setattr(wrapper.subprocess, "run", supervisorctl)
    assert wrapper._supervisor_states() == {"patroni": "RUNNING", "etcd": "FATAL"}
    assert asked == [["supervisorctl", "status"]]


def test_on_a_systemd_host_the_wrapper_lists_the_running_units(wrapper, monkeypatch, capsys) -> None:
    listing = "ssh.service loaded active running OpenBSD Secure Shell server\npatroni.service loaded active running x\n"
    monkeypatch.setattr(wrapper, "_manager", lambda: "systemd")
    monkeypatch.setattr(wrapper.subprocess, "run", lambda argv, **_: types.SimpleNamespace(stdout=listing))
    assert wrapper._running() == 0
    assert capsys.readouterr().out.splitlines() == ["systemd patroni", "systemd ssh"]

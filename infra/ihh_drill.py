#!/usr/bin/python3 -I
"""ihh-drill: the one command the operations account may run as root; sudoers lists it alone.

Drills, the restore drill, ``--cleanup`` and the host checks send their commands through it
(``sudo -n /usr/local/sbin/ihh-drill <command>``). It runs a command only when the whole argument
list matches one of the shapes below (the drills' own commands, nothing else), with no shell: a
refused command exits 77 and names itself. ``;`` between commands runs them in order, like a shell's
``;`` (every command is checked before the first runs). The stack installs this file and
``/etc/sudoers.d/<ops user>``; ``SETTINGS`` (paths and names the harness uses) is filled in when the
stack renders it (``infra/drill_access.py``). Standalone on purpose: a host needs only python3.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

SETTINGS: dict = {}  # rendered by infra/drill_access.py

REFUSED = 77
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]*")
INT = re.compile(r"[0-9]{1,18}")
STEP = re.compile(r"[+-]?[0-9]{1,9}")
OPTION = re.compile(r"--[a-z][a-z0-9-]*(=[^\s;&|`$<>]*)?")
ABSOLUTE = re.compile(r"/[A-Za-z0-9_./@:+-]*")
ANY = re.compile(r"(?s).*")
Token = str | re.Pattern[str] | Callable[[Sequence[str]], bool]
"""A literal argument, one argument matching a pattern, or a test of all the remaining arguments."""


class RefusedError(Exception):
    """A command that is not one of the drills' own."""


def _path_ok(path: str) -> bool:
    return bool(ABSOLUTE.fullmatch(path)) and "/../" not in f"{path}/" and "//" not in path


def _readable(path: str) -> bool:
    """Files whose content a check or drill reads: configuration, certificates and the harness's marks, never keys."""
    if not _path_ok(path) or path.endswith(".key") or ("/tls/" in path and not path.endswith(".crt")):
        return False
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in SETTINGS["readable"])


def _services(kind: str) -> Callable[[Sequence[str]], bool]:
    return lambda rest: bool(rest) and all(name in SETTINGS["services"][kind] for name in rest)


def _pgbackrest(rest: Sequence[str]) -> bool:
    commands = [a for a in rest if not a.startswith("--")]
    return (len(commands) == 1 and commands[0] in SETTINGS["pgbackrest_commands"]
            and all(OPTION.fullmatch(a) for a in rest if a.startswith("--")))


def _probe(rest: Sequence[str]) -> bool:
    """``python3 -c <program> [argument]`` for the checks' own probe programs only, known by their hash."""
    return 1 <= len(rest) <= 2 and hashlib.sha256(rest[0].encode()).hexdigest() in SETTINGS["probes"]


def _fillers(rest: Sequence[str]) -> bool:
    return bool(rest) and all(a in (SETTINGS["filler"], SETTINGS["filler"] + "-2") for a in rest)


def _tagged_rule(rest: Sequence[str]) -> bool:
    """An iptables rule the drills add: it carries their comment tag, so cleanup finds it."""
    tagged = any(a == "--comment" and b.startswith(SETTINGS["tag"] + ":") for a, b in itertools.pairwise(rest))
    return tagged and all(re.fullmatch(r"[A-Za-z0-9_.:/,!-]+", a) for a in rest)


def _qdisc(rest: Sequence[str]) -> bool:
    return all(re.fullmatch(r"[A-Za-z0-9_.:%-]+", a) for a in rest)


def _shapes() -> list[tuple[Token, ...]]:
    s = SETTINGS
    data, pg_ctl, postgres = s["data_dir"], f"{s['pg_bin']}/pg_ctl", ("runuser", "-u", "postgres", "--")
    drill_class = re.compile(re.escape(s["qdisc_handle"]) + "[0-9]+")  # under the drills' root: gone with it
    return [
        ("true",), ("uname", re.compile("-[srm]")),
        ("date", "+%s"), ("date", "+%s.%N"), ("hostname", "-I"), ("getent", "ahostsv4", NAME),
        ("ip", "-o", "link", "show"), ("iptables", "-S"), ("tc", "qdisc", "show"), ("ss", "-Htlnu"),
        ("/usr/sbin/sshd", "-T"), ("ihh-manager",), ("ihh-running",),
        # reading: metadata of any path, the content of configuration files only
        ("test", re.compile(r"-[efdxpSL]"), _one_path),
        ("stat", "-Lc", re.compile(r"%[UuGgaYsiF]( %[UuGgaYsiF])*"), _one_path),
        ("cat", "--", _one_readable), ("cat", _one_readable),
        ("stat", "-f", "-c", "%b %a %S", f"{data}/pg_wal/", data), ("stat", "-L", "-c", "%d", f"{data}/pg_wal/", data),
        ("mountpoint", "-q", _one_path), ("findmnt", "-n", "-o", "SOURCE", "-T", _one_path),
        ("lsblk", "-s", "-n", "-o", "TYPE", re.compile(r"/dev/[A-Za-z0-9/_-]+")),
        ("find", f"{data}/pg_wal/archive_status", "-name", "*.ready"),
        ("pgrep", "-o", "-u", "postgres", "-f", "bin/patroni"),
        (*postgres, "find", re.compile(r"/proc/[0-9]+/fd"), "-lname", ABSOLUTE),
        ("grep", re.compile(r"-r[lqh][EF]"), ANY, re.compile(s["log_dir"] + r"(/[A-Za-z0-9_.@:-]+)*/?")),
        ("logger", "-p", "authpriv.notice", "-t", "ihh-log-check", NAME),
        ("python3", "-c", _probe),
        # PostgreSQL, Patroni, pgBackRest as their own accounts
        (*postgres, "psql", "-XAtqc", ANY),
        (*postgres, "patronictl", "-c", s["patroni_config"], re.compile("pause|resume"), "--wait"),
        (*postgres, pg_ctl, "-D", data, "stop", "-m", "immediate"),
        (*postgres, pg_ctl, "-D", data, "start", "-w", "-t", INT, "-l", s["restore_log"]),
        ("runuser", "-u", re.compile("postgres|pgbackrest"), "--", "pgbackrest", _pgbackrest),
        ("timeout", INT, "runuser", "-u", re.compile("postgres|pgbackrest"), "--", "pgbackrest", _pgbackrest),
        ("pkill", "-KILL", "-u", "postgres", "-f", "pgbackrest .*archive-(push|get)"),
        # network faults: tagged rules and the drills' qdisc handle only
        ("iptables", re.compile("-[ID]"), _tagged_rule), ("iptables-batch",),
        ("tc", "qdisc", re.compile("add|del"), "dev", NAME, "root", "handle", s["qdisc_handle"], _qdisc),
        ("tc", "class", "add", "dev", NAME, "parent", s["qdisc_handle"], "classid", drill_class, _qdisc),
        ("tc", "filter", "add", "dev", NAME, "parent", s["qdisc_handle"], _qdisc),
        ("tc", "qdisc", "add", "dev", NAME, "parent", drill_class, "handle", s["qdisc_leaf_handle"], _qdisc),
        # the project's services crashed and started again
        ("supervisorctl", re.compile("stop|start"), _services("supervisor")),
        ("supervisorctl", "signal", "KILL", _services("supervisor")),
        ("systemctl", re.compile("stop|start"), _services("systemd")),
        ("systemctl", "kill", "--signal=SIGKILL", "--kill-whom=all", _services("systemd")),
        ("pkill", "-KILL", "-u", re.compile("|".join(re.escape(u) for u in s["service_users"]))),
        ("ihh-hold", _all_names), ("ihh-held",), ("ihh-release",), ("ihh-stopped", re.compile("systemd|supervisord"),
                                                                     _stopped_pairs),
        # the clock of a host that owns it; the WAL disk's filler; the restore drill's data directory
        ("ihh-clock-step", STEP), ("ihh-clock-mark",), ("ihh-clock-unmark",),
        ("fallocate", "-l", INT, _one_filler), ("rm", "-f", _fillers), ("ihh-wal-fillers",),
        ("ihh-pgdata-wipe",), ("ihh-pgdata-empty",), ("ihh-pgdata-copy",), ("ihh-pgdata-drop-copy",),
        ("ihh-apply-schema",),
        ("--version",),
    ]


def _one_path(rest: Sequence[str]) -> bool:
    return len(rest) == 1 and _path_ok(rest[0])


def _one_readable(rest: Sequence[str]) -> bool:
    return len(rest) == 1 and _readable(rest[0])


def _one_filler(rest: Sequence[str]) -> bool:
    return len(rest) == 1 and _fillers(rest)


def _all_names(rest: Sequence[str]) -> bool:
    return bool(rest) and all(NAME.fullmatch(a) for a in rest)


def _stopped_pairs(rest: Sequence[str]) -> bool:
    """``unit=name`` pairs of the project's services."""
    units = set(SETTINGS["services"]["supervisor"]) | set(SETTINGS["services"]["systemd"])
    return bool(rest) and all(u in units and NAME.fullmatch(n) for u, _, n in (a.partition("=") for a in rest))


def matches(shape: Sequence[Token], argv: Sequence[str]) -> bool:
    for i, token in enumerate(shape):
        if callable(token) and not isinstance(token, re.Pattern):
            return token(argv[i:])
        if i >= len(argv):
            return False
        if isinstance(token, str) and argv[i] != token:
            return False
        if isinstance(token, re.Pattern) and not token.fullmatch(argv[i]):
            return False
    return len(argv) == len(shape)


def allowed(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is one of the drills' own commands."""
    return bool(argv) and any(matches(shape, argv) for shape in _shapes())


def commands(argv: Sequence[str]) -> list[list[str]]:
    """``argv`` split at ``;``, each command checked; RefusedError names the first that is not allowed."""
    split: list[list[str]] = [[]]
    for arg in argv:
        if arg == ";":
            split.append([])
        else:
            split[-1].append(arg)
    for command in split:
        if not allowed(command):
            raise RefusedError(" ".join(command) or "(nothing)")
    return split


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def _print_file(path: str) -> int:
    """The file's content; exit 1 when there is none (no mark)."""
    if not os.path.exists(path):
        return 1
    print(_read(path).strip())
    return 0


def _run(argv: Sequence[str], stdin: str | None = None) -> int:
    return subprocess.run(list(argv), input=stdin, text=True, check=False).returncode


def _manager() -> str:
    if os.path.isdir("/run/systemd/system"):
        return "systemd"
    return "supervisord" if shutil.which("supervisorctl") else "none"


SUPERVISOR_SOCKET = "/run/supervisor.sock"
ALL_PROCESS_INFO = ("<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo</methodName>"
                    "<params/></methodCall>")


def _supervisor_states() -> dict[str, str]:
    """Each supervisord program's state, asked over its socket in one XML-RPC call: ``supervisorctl status``
    costs a host ~0.35 s of CPU (its imports), this a few ms. Falls back to supervisorctl when the socket
    does not answer (another path, authentication)."""
    import socket
    import xml.etree.ElementTree as ElementTree

    body = ALL_PROCESS_INFO.encode()
    request = b"POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(SUPERVISOR_SOCKET)
            sock.sendall(request)
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
        head, _, xml = answer.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0]
        if status_line.split()[1:2] != [b"200"]:
            raise OSError(f"supervisord answered {status_line.decode(errors='replace')!r}")
        states = {}
        # supervisord's own answer on a socket only root may open
        for struct in ElementTree.fromstring(xml).iter("struct"):  # noqa: S314
            members = {m.findtext("name"): "".join(m.find("value").itertext()) for m in struct.iter("member")}
            states[members["name"]] = members["statename"]
        return states
    except (OSError, ElementTree.ParseError, KeyError, AttributeError):
        status = subprocess.run(["supervisorctl", "status"], capture_output=True, text=True, check=False).stdout
        return {line.split()[0]: line.split()[1] for line in status.splitlines() if len(line.split()) > 1}


def _supervisor_running() -> set[str]:
    return {name for name, state in _supervisor_states().items() if state == "RUNNING"}


def _running() -> int:
    """Prints ``<manager> <service>`` for each service the host's manager runs (supervisord's programs,
    systemd's service units without ``.service``)."""
    kind = _manager()
    if kind == "systemd":
        listing = subprocess.run(["systemctl", "list-units", "--type=service", "--state=running", "--plain",
                                  "--no-legend", "--no-pager"], capture_output=True, text=True, check=False)
        names = [line.split()[0].removesuffix(".service") for line in listing.stdout.splitlines() if line.strip()]
    elif kind == "supervisord":
        names = list(_supervisor_running())
    else:
        names = []  # no manager this wrapper knows: nothing it can say runs
    print("\n".join(f"{kind} {name}" for name in sorted(names)))
    return 0


def _stopped(kind: str, pairs: Sequence[str]) -> int:
    """Prints the name of each ``unit=name`` whose unit is not running."""
    if kind == "supervisord":
        running = _supervisor_running()
    for unit, _, name in (p.partition("=") for p in pairs):
        if kind == "systemd":
            up = subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False).returncode == 0
        else:
            up = unit in running
        if not up:
            print(name)
    return 0


def _clock_step(step: int) -> int:
    # the mark first: `--cleanup` after a kill between the two finds it (and checks the clock before undoing)
    _write(SETTINGS["clock_mark"], f"{step}\n")
    return _run(["date", "-s", f"@{int(time.time()) + step}"])


def _iptables_batch() -> int:
    """``iptables-restore --noflush`` of tagged -I/-D rules only, read from standard input."""
    batch = sys.stdin.read()
    for line in batch.splitlines():
        words = line.split()
        if line in ("*filter", "COMMIT") or not words:
            continue
        if words[0] not in ("-I", "-D") or not _tagged_rule(words[1:]):
            raise RefusedError(f"iptables-batch line {line!r}")
    return _run(["iptables-restore", "--noflush"], stdin=batch)


def _apply_schema() -> int:
    """The stack's own service schema (idempotent), as its owner role, on this member: how ``up`` brings a
    running cluster's schema up to date; bootstrap applies it once, on a new cluster only."""
    schema = SETTINGS["service_schema"]
    if not os.path.exists(schema):
        print(f"no service schema at {schema}: nothing to apply")
        return 0
    return _run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                 SETTINGS["service_database"], "-c", f"SET ROLE {SETTINGS['service_owner']}", "-f", schema])


def _builtin(argv: Sequence[str]) -> int | None:
    """Run ``argv`` if it is one of the wrapper's own verbs; None when it is a program to execute instead."""
    s, verb = SETTINGS, argv[0]
    data, wal = s["data_dir"], s["wal_dir"]
    actions: dict[str, Callable[[], int]] = {
        "ihh-manager": lambda: print(_manager()) or 0,
        "ihh-running": _running,
        "ihh-hold": lambda: _write(s["held_mark"], " ".join(argv[1:]) + "\n") or 0,
        "ihh-held": lambda: print(_read(s["held_mark"]).strip()) or 0,
        "ihh-release": lambda: _run(["rm", "-f", s["held_mark"]]),
        "ihh-stopped": lambda: _stopped(argv[1], argv[2:]),
        "ihh-clock-step": lambda: _clock_step(int(argv[1])),
        "ihh-clock-mark": lambda: _print_file(s["clock_mark"]),
        "ihh-clock-unmark": lambda: _run(["rm", "-f", s["clock_mark"]]),
        "ihh-wal-fillers": lambda: print("\n".join(p for p in (s["filler"], s["filler"] + "-2")
                                                   if os.path.exists(p))) or 0,
        "ihh-pgdata-wipe": lambda: _run(["rm", "-rf", data, f"{wal}/pg_wal", s["archive_spool"]]) or _run(
            ["install", "-d", "-o", "postgres", "-g", "postgres", "-m", "0700", data]),
        "ihh-pgdata-empty": lambda: _run(["find", data, "-mindepth", "1", "-delete"]) or _run(
            ["rm", "-rf", f"{wal}/pg_wal"]),
        "ihh-pgdata-copy": lambda: _run(["cp", "-a", data, f"{data}.rawcopy"]) or _run(["sync"]),
        "ihh-pgdata-drop-copy": lambda: _run(["rm", "-rf", f"{data}.rawcopy"]),
        "iptables-batch": _iptables_batch,
        "ihh-apply-schema": _apply_schema,
        "--version": lambda: print(s["version"]) or 0,
    }
    return actions[verb]() if verb in actions else None


def run(argv: Sequence[str]) -> int:
    """Every command of ``argv`` checked, then run in order; the exit code of the last."""
    code = 0
    for command in commands(argv):
        sys.stdout.flush()
        code = _builtin(command)
        if code is None:
            code = _run(command)
    return code


def main() -> int:
    try:
        return run(sys.argv[1:])
    except RefusedError as exc:
        print(f"ihh-drill: refused, not a drill command: {exc}", file=sys.stderr)
        return REFUSED


if __name__ == "__main__":
    sys.exit(main())

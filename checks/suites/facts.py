"""Assertions several suites make, each failing with '<host>: <rule>: <what was found>'."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from harness.core.outputs import Host
from infra.host_probes import HTTP_PROBE

STAT_FORMAT = "%U %a %F"
MISSING = "No such file or directory"


@dataclass(frozen=True)
class PathFacts:
    """A path's owner, mode and kind, as one ``stat`` on its host told them."""

    user: str
    mode: int
    kind: str  # stat's %F: "regular file", "directory", ...

    @property
    def is_directory(self) -> bool:
        return self.kind == "directory"

    def __str__(self) -> str:
        return f"{oct(self.mode)} {self.user} ({self.kind})"


def _unless_missing(host: Any, command: str) -> str | None:
    """``command``'s output on ``host``; None when it failed because its path does not exist."""
    result = host.run(command)
    if result.rc != 0:
        if MISSING in result.stderr:
            return None
        raise RuntimeError(f"`{command}` exited {result.rc}: {result.stderr.strip()}")
    return result.stdout


def path_facts(host: Any, path: str) -> PathFacts | None:
    """What ``path`` is on ``host`` (None: it does not exist), in one root command: testinfra's File asks
    one command per attribute, and on two cores each root command costs its host ~0.1 s of CPU."""
    facts = _unless_missing(host, f"stat -Lc {shlex.quote(STAT_FORMAT)} {shlex.quote(path)}")
    if facts is None:
        return None
    user, mode, kind = facts.strip().split(" ", 2)
    return PathFacts(user, int(mode, 8), kind)


def optional_text(host: Any, path: str) -> str | None:
    """The content of ``path`` on ``host`` (None: it does not exist), in one root command (testinfra's File
    asks ``test -e`` first)."""
    return _unless_missing(host, f"cat -- {shlex.quote(path)}")


def file_text(host: Any, path: str) -> str:
    """The content of ``path`` on ``host``, which must exist."""
    text = optional_text(host, path)
    if text is None:
        raise FileNotFoundError(f"{path} is missing")
    return text


def assert_owner_only(host: Any, target: Host, path: str, owner: str, rule: str) -> None:
    """``path`` exists, belongs to ``owner`` and no one else may read or write it."""
    secret = path_facts(host, path)
    assert secret is not None, f"{target.name}: {rule}: {path} is missing"
    assert secret.user == owner and secret.mode & 0o077 == 0, (
        f"{target.name}: {rule}: {path} is {oct(secret.mode)} owned by {secret.user}"
    )




def http_answers(host: Any, asks: list[dict[str, Any]]) -> dict[str, Any]:
    """Each request's answer, made from ``host`` itself: an HTTP status, a TLS version, or the error's name.

    A request is ``{"name", "url", "method", "headers", "ca", "cert": [crt, key], "check_hostname"}``, or
    ``{"name", "tls_only": [host, port], "ca", ...}`` for a bare handshake.
    """
    argument = shlex.quote(json.dumps(asks))
    return json.loads(host.check_output(f"python3 -c {shlex.quote(HTTP_PROBE)} {argument}"))

"""Commands in a host's network namespace, run from the control machine with ``nsenter``.

Faults that shape or cut a host's traffic (iptables, tc) go here, so the host needs no
privilege and no tools of its own. Rules and qdiscs the harness adds carry its marks
(``TAG`` in iptables comments, ``QDISC_HANDLE``), so a cleanup finds them after a crash.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

TAG = "ihh-drill"
"""Prefix of the comment on every iptables rule a drill adds: ``ihh-drill:<what>``."""
QDISC_HANDLE = "1ab:"
"""Handle of every root qdisc a drill adds."""


@dataclass(frozen=True)
class NetworkNamespace:
    """One host's network namespace, by the PID of a process inside it."""

    host: str
    pid: int

    def run(self, *command: str, check: bool = True, timeout_s: float = 15,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["nsenter", "-t", str(self.pid), "-n", *command], capture_output=True, text=True,
                                check=False, timeout=timeout_s, input=stdin)
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.host}: `{' '.join(command)}` in its network namespace: "
                               f"{result.stderr.strip()}")
        return result

    def interfaces(self) -> list[str]:
        """Every interface but loopback."""
        out = self.run("ip", "-o", "link", "show").stdout
        names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
        return [n for n in names if n != "lo"]

    def tagged_rules(self) -> list[list[str]]:
        """The drills' iptables rules still present, each as arguments for ``iptables -D``."""
        listing = self.run("iptables", "-S", check=False).stdout.splitlines()
        return [shlex.split(line[3:]) for line in listing if line.startswith("-A ") and f"{TAG}:" in line]

    def has_drill_qdisc(self, dev: str) -> bool:
        shown = self.run("tc", "qdisc", "show", "dev", dev, check=False).stdout
        return f" {QDISC_HANDLE} " in shown or f"qdisc tbf {QDISC_HANDLE}" in shown

    def remove_qdisc(self, dev: str) -> None:
        self.run("tc", "qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE, check=False)

"""A host's network, where drills cut and shape its traffic: from inside over SSH, or from the engine's side.

The same iptables and tc commands run either way. ``SshNetwork`` runs them on the host as root over
SSH (any host: a cloud server, a machine in the server room, a local container); ``NetworkNamespace``
enters a local container's namespace with ``nsenter`` from the control machine. Rules and qdiscs the
harness adds carry its marks (``RULE_TAG`` in iptables comments, ``QDISC_HANDLE``; both in
``infra.drill_access``), so a cleanup finds them after a crash, whichever way they were added.
"""

from __future__ import annotations

import shlex
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass

from harness.core.ssh import Sessions
from infra.drill_access import QDISC_HANDLE, RULE_TAG

Completed = subprocess.CompletedProcess[str]


class HostNetwork(ABC):
    """One host's network stack, as iptables and tc see it."""

    host: str

    @abstractmethod
    def _execute(self, command: tuple[str, ...], timeout_s: float, stdin: str | None) -> Completed: ...

    @property
    @abstractmethod
    def way(self) -> str:
        """How the commands reach the host, for messages."""

    def run(self, *command: str, check: bool = True, timeout_s: float = 15, stdin: str | None = None) -> Completed:
        result = self._execute(command, timeout_s, stdin)
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.host}: `{' '.join(command)}` ({self.way}): {result.stderr.strip()}")
        return result

    def interfaces(self) -> list[str]:
        """Every interface but loopback."""
        out = self.run("ip", "-o", "link", "show").stdout
        names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
        return [n for n in names if n != "lo"]

    def tagged_rules(self) -> list[list[str]]:
        """The drills' iptables rules still present, each as arguments for ``iptables -D``."""
        listing = self.run("iptables", "-S", check=False).stdout.splitlines()
        return [shlex.split(line[3:]) for line in listing if line.startswith("-A ") and f"{RULE_TAG}:" in line]

    def drill_qdisc_devices(self) -> list[str]:
        """The interfaces that carry a root qdisc with the drills' handle (one ``tc`` call for all)."""
        shown = self.run("tc", "qdisc", "show", check=False).stdout.splitlines()
        return [line.split(" dev ", 1)[1].split()[0] for line in shown
                if f" {QDISC_HANDLE} " in f"{line} " and " dev " in line]

    def remove_qdisc(self, dev: str) -> None:
        self.run("tc", "qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE, check=False)


@dataclass(frozen=True)
class NetworkNamespace(HostNetwork):
    """A local container's namespace, by the PID of a process inside it: nothing privileged in the host."""

    host: str
    pid: int

    @property
    def way(self) -> str:
        return "in its network namespace, from the control machine"

    def _execute(self, command: tuple[str, ...], timeout_s: float, stdin: str | None) -> Completed:
        return subprocess.run(["nsenter", "-t", str(self.pid), "-n", *command], capture_output=True, text=True,
                              check=False, timeout=timeout_s, input=stdin)


@dataclass(frozen=True)
class SshNetwork(HostNetwork):
    """The host's own network, as root over SSH (its operations account's sudo): what a real server offers."""

    host: str
    sessions: Sessions

    @property
    def way(self) -> str:
        return "over SSH"

    def _execute(self, command: tuple[str, ...], timeout_s: float, stdin: str | None) -> Completed:
        # the wrapper reads the batch and refuses any rule without the drills' tag before restoring it
        wrapped = ("iptables-batch",) if command == ("iptables-restore", "--noflush") else command
        result = self.sessions.result(self.host, shlex.join(wrapped), timeout_s=timeout_s, stdin=stdin)
        return subprocess.CompletedProcess(list(command), result.exit_code, result.stdout, result.stderr)

"""An existing stack's inventory against the servers themselves: each one reached over SSH as declared.

What the config cannot show is found here, before any drill: a host that does not answer, one that
presents another host key than the inventory's (a typo, or not the server meant), or one that refuses
the operations account's key. Every problem is named by the inventory field to fix.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import paramiko

from harness.core.outputs import Host, StackOutputs
from harness.core.ssh import connect
from infra.config import ConfigError
from infra.inventory import Inventory

REACH_TIMEOUT_S = 10.0


def _problem(outputs: StackOutputs, inventory: Inventory, host: Host) -> str | None:
    where = inventory.host(host.name).where
    try:
        connect(outputs, host.name, timeout_s=REACH_TIMEOUT_S).close()
    except paramiko.BadHostKeyException:
        return f"{where}.hostKey: {host.name} at {host.ssh} presented another host key than the one declared"
    except paramiko.AuthenticationException:
        return (f"existing.sshKey: {host.name} at {host.ssh} refused the key of {outputs.ssh_user} "
                "(existing.sshUser)")
    except (OSError, paramiko.SSHException, EOFError) as exc:
        return f"{where}.ssh: {host.name} at {host.ssh} did not answer SSH: {exc}"
    return None


def refuse_unreachable(outputs: StackOutputs, inventory: Inventory) -> None:
    """Every declared host reached (in parallel); raises ConfigError listing each that was not."""
    hosts = outputs.hosts()
    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = [p for p in pool.map(lambda h: _problem(outputs, inventory, h), hosts) if p]
    if problems:
        raise ConfigError("existing.hosts", f"{len(problems)} of {len(hosts)} hosts not reached as declared:\n  "
                                            + "\n  ".join(problems))

"""testinfra hosts for a stack's hosts, over paramiko, with the host key the stack generated.

testinfra's paramiko backend would accept an unknown host key with a warning; here
its connection is replaced by one that verified the key from the outputs.
"""

from __future__ import annotations

import testinfra
from testinfra.host import Host

from harness.core.outputs import StackOutputs
from harness.core.ssh import connect


def testinfra_host(outputs: StackOutputs, name: str) -> Host:
    """A testinfra Host for ``name`` that runs commands with sudo over a strictly verified session."""
    address, port = outputs.host(name).ssh_endpoint
    host = testinfra.get_host(f"paramiko://{outputs.ssh_user}@{address}:{port}", sudo=True)
    host.backend.client = connect(outputs, name)  # cached_property: replaced before first use
    return host

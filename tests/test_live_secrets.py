"""No generated secret on any host's command lines or process environments, nor in what `docker inspect` shows.

Each secret the stack generates and hands to the harness (database app password, TURN shared secret,
Patroni REST password) is looked for, as a literal, in every process's argv and environment on every
host (read as root over SSH) and in every container's configuration as the engine reports it.
"""

from __future__ import annotations

import pytest

from tests.helpers import as_root_in_container

pytestmark = pytest.mark.live
SCAN = ("for p in /proc/[0-9]*; do { tr '\\0' ' ' < $p/cmdline; } 2>/dev/null; echo; "
        "{ tr '\\0' '\\n' < $p/environ; } 2>/dev/null || echo \"environ-unreadable $p\"; done; "
        "cat /etc/supervisor/conf.d/*.conf 2>/dev/null; true")
"""Every process's argv and environment, and the supervisord program sections that set environments: root in a
container (no CAP_SYS_PTRACE) cannot read the environ of a process of another user, whose environment
comes from supervisord's (read here) and its program section (read here too)."""


def _secrets(outputs) -> dict[str, str]:
    found = {name: outputs.secret(name) for name in outputs.secret_names}
    assert {"db_app_password", "turn_shared_secret", "patroni_rest_password", "service_session_key"} <= set(found)
    assert all(len(v) >= 16 for v in found.values()), "generated secrets, not placeholders"
    return found


def test_no_secret_in_any_process_table(outputs, containers) -> None:
    secrets = _secrets(outputs)
    leaks = []
    for host in outputs.hosts():  # as root through the engine: the ops account's sudo runs drill commands only
        listing = as_root_in_container(containers, outputs, host.name, SCAN)
        assert "supervisord" in listing, f"{host.name}: the scan read no process table"
        assert listing.count("environ-unreadable") < listing.count("\n") / 4, f"{host.name}: most unread"
        leaks += [f"{host.name}: {name}" for name, value in secrets.items() if value in listing]
    assert not leaks, f"secrets visible to ps or /proc/*/environ: {', '.join(leaks)}"


def test_no_secret_in_what_the_engine_shows(outputs, engine) -> None:
    secrets = _secrets(outputs)
    leaks = []
    for host in outputs.hosts():
        shown = str(engine.client.api.inspect_container(host.container))
        leaks += [f"{host.name}: {name}" for name, value in secrets.items() if value in shown]
    assert not leaks, f"secrets in `docker inspect`: {', '.join(leaks)}"

"""How drills reach each host (the outputs' ``target``), and what a crash over SSH runs on each manager."""

from __future__ import annotations

import pytest

from harness.core import services
from harness.core.netns import Completed, HostNetwork
from harness.core.outputs import OutputsError, StackOutputs
from infra.drill_access import QDISC_HANDLE
from infra.model import ROLE_SERVICES
from tests.helpers import outputs_record, program


def _outputs(**host_changes: object) -> StackOutputs:
    record = outputs_record()
    record["hosts"] = [{**h, **host_changes} for h in record["hosts"]]
    return StackOutputs.parse("t", record)


def test_a_container_is_reached_from_the_engine_and_any_host_by_ssh_when_asked() -> None:
    outputs = _outputs()
    assert {h.drill_target for h in outputs.hosts()} == {"docker"}
    assert {h.drill_target for h in outputs.reached_by("ssh").hosts()} == {"ssh"}
    assert outputs.reached_by(None) is outputs
    real = _outputs(container=None)
    assert {h.drill_target for h in real.hosts()} == {"ssh"}, "a host without a container is reached by SSH"


def test_docker_is_refused_for_a_host_that_is_no_container() -> None:
    with pytest.raises(OutputsError, match=r"hosts\[0\] \(--target docker\)\.target: docker needs a container"):
        _outputs(container=None).reached_by("docker")
    with pytest.raises(OutputsError, match=r"hosts\[0\]\.target: must be one of ssh, docker, got 'telnet'"):
        _outputs(target="telnet")


def test_the_program_lists_every_hosts_services_in_its_outputs() -> None:
    outputs = StackOutputs.parse("local", program("local").outputs)
    for host in outputs.hosts():
        expected = {s.name for role in host.roles for s in ROLE_SERVICES[role]}  # type: ignore[index]
        assert {s.name for s in host.services} == expected, host.name
    database = outputs.hosts(role="database")[0]
    assert next(s for s in database.services if s.name == "patroni").user == "postgres"


def test_a_crash_kills_then_holds_the_services_stopped_under_either_manager() -> None:
    patroni, pgbackrest = (s for s in StackOutputs.parse("local", program("local").outputs)
                           .hosts(role="database")[0].services)
    local = services.crash_commands("supervisord", (patroni, pgbackrest))
    assert local[0] == "ihh-hold patroni pgbackrest-server", "marked before the kill"
    assert local[1:3] == ["supervisorctl signal KILL patroni pgbackrest-server", "pkill -KILL -u postgres"]
    assert "supervisorctl stop patroni pgbackrest-server" in local, "autorestart would undo the crash"
    assert local[-1] == "pkill -KILL -u postgres", "a PostgreSQL restarted in between goes too"
    real = services.crash_commands("systemd", (patroni, pgbackrest))
    assert real[1] == "systemctl kill --signal=SIGKILL --kill-whom=all patroni pgbackrest"
    assert "systemctl stop patroni pgbackrest" in real
    assert services.start_command("systemd", (pgbackrest,)) == "systemctl start pgbackrest"


def test_a_host_without_services_is_refused_by_name() -> None:
    host = _outputs().hosts()[0]
    with pytest.raises(services.ServiceError, match=r"host db-1: the outputs list no services for it"):
        services._services(host)


class _Canned(HostNetwork):
    """A host network that answers ``tc qdisc show`` with a fixed listing."""

    host = "turn-1"
    way = "canned"

    def _execute(self, command: tuple[str, ...], timeout_s: float, stdin: str | None) -> Completed:
        listing = ("qdisc noqueue 0: dev lo root refcnt 2 \n"
                   f"qdisc tbf {QDISC_HANDLE} dev eth0 root refcnt 2 rate 64Kbit burst 16Kb lat 100ms \n"
                   "qdisc noqueue 0: dev eth1 root refcnt 2 \n")
        return Completed(list(command), 0, listing, "")


def test_the_drills_qdiscs_are_found_by_their_handle_in_one_listing() -> None:
    assert _Canned().drill_qdisc_devices() == ["eth0"]

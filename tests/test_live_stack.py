"""The local stack, really running: every part answers through the stack's outputs only."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from email.message import Message

import pytest

from harness.core.database import connect as db_connect
from harness.core.http_json import tls_context
from harness.core.patroni import Patroni
from harness.core.ssh import RemoteCommandTimeoutError, Sessions, as_root
from harness.core.ssh import connect as ssh_connect
from harness.core.ssh import run as ssh_run
from harness.core.turn import TurnError, allocate
from harness.core.waiting import wait_for
from tests.api_client import STACK_CA

pytestmark = pytest.mark.live


def _get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body, errors included; HTTPS checked against the stack's CA."""
    try:
        with urllib.request.urlopen(url, timeout=5, context=tls_context(STACK_CA)) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_every_container_is_healthy(outputs, engine) -> None:
    def health(container: str) -> str | None:
        state = engine.client.api.inspect_container(container)["State"]
        assert state["Status"] == "running", f"{container}: {state['Status']}"
        return (state.get("Health") or {}).get("Status")

    for host in outputs.hosts():  # the engine runs each check every 15 s: a host just started may not be judged yet
        wait_for(f"{host.name} healthy to the engine", lambda c=host.container: health(c) == "healthy", timeout=60)


@pytest.mark.parametrize("check", ["true", "false"])
def test_up_runs_a_containers_own_check_instead_of_waiting_for_the_engine(outputs, engine, check: str) -> None:
    """A container whose check passes is healthy to `up` at once, before the engine's first run of it (every 15 s,
    after the start period); one whose check fails is not, whatever the engine has not yet said."""
    from harness.provisioning.docker_apply import ApplyError, DockerApplier

    image = engine.client.api.inspect_container(outputs.hosts(role="log")[0].container)["Config"]["Image"]
    name = f"ihh-healthcheck-test-{uuid.uuid4().hex[:8]}"
    engine.client.containers.run(image, ["sleep", "120"], entrypoint=[], name=name, detach=True, auto_remove=True,
                                 healthcheck={"test": ["CMD", check], "interval": 15 * 10**9,
                                              "timeout": 3 * 10**9, "retries": 4, "start_period": 60 * 10**9})
    try:
        applier = DockerApplier(engine.client, "healthcheck-test")
        if check == "true":
            applier.wait_healthy([name], timeout=10)
        else:
            with pytest.raises(ApplyError, match=name):
                applier.wait_healthy([name], timeout=3)
        engine_says = engine.client.api.inspect_container(name)["State"]["Health"]["Status"]
        assert engine_says == "starting", f"the engine had judged the container already ({engine_says})"
    finally:
        engine.client.api.remove_container(name, force=True)


def test_ready_through_both_uplinks_on_loopback(outputs) -> None:
    assert len(outputs.uplinks) >= 2
    for uplink in outputs.uplinks:
        assert uplink.url.startswith("https://127.0.0.1:"), uplink
        status, headers, body = wait_for(
            f"{uplink.name} ready", lambda u=uplink: (r := _get(u.url + "/health/ready"))[0] == 200 and r,
            timeout=60,
        )
        assert status == 200, body
        assert headers.get("X-Uplink") == uplink.name, headers
        assert b'"ready": true' in body


def test_uplinks_are_shaped_to_their_contract(outputs) -> None:
    for uplink in outputs.uplinks:
        url = f"{outputs.toxiproxy_api}/proxies/{uplink.toxiproxy_proxy}/toxics"
        with urllib.request.urlopen(url, timeout=5) as response:
            toxics = json.loads(response.read())
        rates = {t["stream"]: t["attributes"]["rate"] for t in toxics if t["type"] == "bandwidth"}
        expected = uplink.bandwidth_mbps * 1000 // 8
        assert rates == {"upstream": expected, "downstream": expected}, (uplink.name, toxics)


def test_row_written_on_primary_is_read_on_standby(outputs) -> None:
    marker = f"live-test-{uuid.uuid4()}"
    with db_connect(outputs, "read-write") as primary:
        assert primary.execute("select pg_is_in_recovery()").fetchone() == (False,)
        primary.execute("create table if not exists drill.replication_probe (marker text primary key, at timestamptz)")
        primary.execute("insert into drill.replication_probe values (%s, now())", (marker,))
    with db_connect(outputs, "standby") as standby:
        assert standby.execute("select pg_is_in_recovery()").fetchone() == (True,)
        found = wait_for(
            "the row on the standby",
            lambda: standby.execute("select marker from drill.replication_probe where marker = %s",
                                    (marker,)).fetchone(),
            timeout=10,
        )
    assert found == (marker,)


def test_database_is_not_reachable_from_the_uplink_side(outputs) -> None:
    ingress = outputs.uplinks[0].ingress_host
    client = ssh_connect(outputs, ingress)
    try:
        for member in outputs.database.members:
            probe = (f"python3 -c \"import socket; socket.create_connection(('{member.name}', 5432), timeout=2)\"")
            result = ssh_run(client, ingress, probe, check=False)
            assert result.exit_code != 0, f"{ingress} reached {member.name}:5432"
    finally:
        client.close()


def test_turn_allocation_on_each_av_node(outputs) -> None:
    secret = outputs.secret("turn_shared_secret")
    assert len(outputs.av_nodes) >= 2
    for node in outputs.av_nodes:
        allocation = allocate(node.turn, secret)
        assert allocation.relayed_port > 0 and allocation.lifetime_s > 0, (node.name, allocation)
    with pytest.raises(TurnError) as refused:
        allocate(outputs.av_nodes[0].turn, "not-the-shared-secret")
    assert refused.value.code == 401


def test_ssh_with_generated_key_on_every_host(outputs) -> None:
    for host in outputs.hosts():
        client = ssh_connect(outputs, host.name)
        try:
            result = ssh_run(client, host.name, "id -un")
        finally:
            client.close()
        assert result.stdout.strip() == outputs.ssh_user, host.name


def test_a_command_that_does_not_end_is_cut_at_its_deadline_and_the_host_answers_again(outputs) -> None:
    """A real sshd: the command's deadline ends the wait (paramiko's own has none); the next command gets a new
    session."""
    host = outputs.hosts(role="av")[0].name
    with Sessions(outputs) as ssh:
        assert ssh.result(host, "true", root=False).exit_code == 0
        session = ssh._open[host]
        started = time.monotonic()
        with pytest.raises(RemoteCommandTimeoutError, match=rf"{host}: `sleep 60` did not finish within 2 s"):
            ssh.result(host, "sleep 60", timeout_s=2, root=False)
        assert time.monotonic() - started < 10
        assert ssh.result(host, "id -un", root=False).stdout.strip() == outputs.ssh_user
        assert ssh._open[host] is not session, "a session that timed out is not reused"


def test_each_backup_repository_accepts_a_backup(outputs) -> None:
    for site in outputs.backup_sites:
        client = ssh_connect(outputs, site.host)
        try:
            wait_for(
                f"stanza on {site.host}",
                lambda s=site, c=client: ssh_run(c, s.host, as_root(
                                                 "runuser -u pgbackrest -- pgbackrest --stanza=main "
                                                 f"--repo={s.repository} info --output=json"), check=False
                                                 ).exit_code == 0,
                timeout=120,
            )
            ssh_run(client, site.host,
                    as_root(f"runuser -u pgbackrest -- pgbackrest --stanza=main --repo={site.repository} "
                            "--type=full backup"),
                    timeout_s=600)
            info = ssh_run(client, site.host, as_root("runuser -u pgbackrest -- pgbackrest --stanza=main "
                                                      f"--repo={site.repository} info --output=json"))
        finally:
            client.close()
        stanza = json.loads(info.stdout)[0]
        assert stanza["status"]["message"] == "ok", stanza["status"]
        assert stanza["backup"], f"no backup in repository {site.repository}"
        assert stanza["cipher"] == "aes-256-cbc"


def test_second_up_changes_nothing(live_stack) -> None:
    from harness.provisioning.stack_ops import up

    live_stack.ensure_up()
    started = time.monotonic()
    report = up(live_stack.stack).report
    assert not report.changed, report
    assert time.monotonic() - started < 600  # bounded, not a timing claim


def test_up_converges_patroni_timing_changed_behind_its_back(live_stack) -> None:
    """bootstrap.dcs applies once; `up` puts the configured failover timing back in the DCS."""
    from harness.provisioning.patroni_config import converge
    from harness.provisioning.stack_ops import up
    from infra.config import parse_config
    from tests.helpers import stack_values

    outputs = live_stack.ensure_up()
    configured = parse_config(live_stack.stack, stack_values(live_stack.stack)).database
    patroni = Patroni(outputs)

    def ttl_everywhere(value: int) -> bool:
        """Each member's cached view of the DCS config (refreshed every loop_wait) shows ``value``."""
        return all(patroni.config(m.name)["ttl"] == value for m in outputs.database.members)

    patroni.patch_config(outputs.database.members[0].name, {"ttl": 30})
    wait_for("the drifted ttl on every member", lambda: ttl_everywhere(30), timeout=30)
    up(live_stack.stack)
    wait_for("the configured ttl back on every member", lambda: ttl_everywhere(configured.failover.ttl),
             timeout=30)
    assert converge(outputs, configured) == {}, "a converged cluster differs in nothing"


def test_up_completes_a_stack_left_half_done(live_stack, engine) -> None:
    """A container lost and one stopped (as after an interrupted up) are restored; nothing else moves."""
    from harness.provisioning.stack_ops import up

    outputs = live_stack.ensure_up()
    containers = {h.name: h.container for h in outputs.hosts()}
    engine.client.containers.get(containers["app-2"]).remove(force=True)
    engine.client.containers.get(containers["turn-2"]).stop(timeout=5)
    report = up(live_stack.stack).report
    assert report.created == [containers["app-2"]], report
    assert report.started == [containers["turn-2"]], report
    assert not report.replaced and not report.removed, report


def test_the_ops_account_may_sudo_only_the_drill_wrapper_which_refuses_the_rest(outputs) -> None:
    """Least privilege on a real host: no `sudo sh`, and the wrapper runs the drills' commands, nothing else."""
    host = outputs.hosts(role="database")[0].name
    client = ssh_connect(outputs, host)
    try:
        assert ssh_run(client, host, "sudo -n true", check=False).exit_code != 0, "sudo must not run anything"
        for command in ("sh -c id", "cat /etc/shadow", "cat -- /etc/ihh/tls/host.key", "iptables -F",
                        "rm -rf /var/lib/postgresql"):
            refused = ssh_run(client, host, as_root(command), check=False)
            assert refused.exit_code == 77 and "refused" in refused.stderr, (command, refused)
        assert ssh_run(client, host, as_root("date +%s")).stdout.strip().isdigit()
    finally:
        client.close()

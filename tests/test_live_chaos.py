"""Every experiment against the live stack; a killed harness leaves faults that --cleanup removes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chaos.cleanup import cleanup
from chaos.experiment import EXPERIMENTS_DIR, find_experiments, load_experiment
from chaos.runner import RunOptions, run_experiment
from harness.core.containers import LocalContainers
from harness.core.ecs_power import ENDPOINT_ENV, KEY_ID_ENV, KEY_SECRET_ENV
from harness.core.http_json import ready_on_every_uplink
from harness.core.netns import NetworkNamespace
from harness.core.outputs import Host
from harness.core.patroni import Patroni, wait_cluster_whole
from harness.core.toxiproxy import TOXIC_PREFIX, Toxiproxy
from harness.core.waiting import wait_for
from harness.pipeline import QUICK_EXPERIMENTS
from infra.drill_access import QDISC_HANDLE
from tests.drill_journals import assert_drill_ran_and_undid_its_faults
from tests.fake_ecs import FakeEcs

pytestmark = pytest.mark.live
HARNESS = Path(sys.executable).with_name("harness")
ON_ECS = "site-power-loss"
"""Drilled with the hosts as ECS instances through the local double of the ECS API (its own test below)."""
NAMES = sorted({p.stem for p in EXPERIMENTS_DIR.glob("*.yaml")} - set(QUICK_EXPERIMENTS) - {ON_ECS})
"""The quick evidence run (test_live_evidence) drills QUICK_EXPERIMENTS; their journals are checked there, alike."""
OVER_SSH = {"av-node-kill", "backup-site-unreachable", "dcs-quorum-loss", "dcs-quorum-partition",
            "lagging-standby-primary-kill", "media-path", "primary-partition-drop", "primary-partition-reject"}
"""Drills that cut or shape a host's network or crash its software: run here as on a real server (``--target
ssh``) with the engine forbidden to the drill code, so iptables, tc and the kills provably went over SSH. The
engine's way stays covered by dcs-member-loss (its etcd container killed) and the backup and restore tests'
isolation; the quick evidence run drills an existing stack, over SSH."""


class EngineForbidden(LocalContainers):
    """Entering a host's namespace or killing its container from the engine's side fails the test."""

    def netns(self, host: Host) -> NetworkNamespace:
        raise AssertionError(f"{host.name}: a drill on the ssh target entered its namespace from the engine's side")

    def kill(self, hosts: list[Host]) -> None:
        raise AssertionError(f"{', '.join(h.name for h in hosts)}: a drill on the ssh target killed containers")


@pytest.fixture
def steady(outputs, containers):
    """Each drill starts from a whole cluster: every fault gone, a synchronous standby, ready on every uplink."""
    cleanup(containers, outputs)
    wait_cluster_whole(outputs, "a whole cluster before the drill", log_tail=containers.log_tail)
    wait_for("ready on every uplink", lambda: ready_on_every_uplink(outputs), timeout=120)
    return outputs


@pytest.mark.parametrize("name", NAMES)
def test_experiment_runs_and_undoes_its_faults(name: str, steady, containers, tmp_path: Path) -> None:
    if name in OVER_SSH:
        outputs, reach = steady.reached_by("ssh"), EngineForbidden(containers.client, steady.stack)
    else:
        outputs, reach = steady, containers
    journal = run_experiment(find_experiments([name])[0], outputs, reach, tmp_path, RunOptions())
    assert_drill_ran_and_undid_its_faults(json.loads(journal.path.read_text()), name)
    assert not cleanup(containers, steady), "the experiment left a fault behind"


def test_site_power_loss_on_ecs_instances_goes_through_the_ecs_api(steady, containers, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The prod platform's power switch: every host an ECS instance reached over SSH, the primary site powered off
    with StopInstances (ForceStop) and on with StartInstances, signed, through the local double of the API, which
    kills and starts the containers that are those instances. The engine is forbidden to the drill code."""
    ssh = steady.reached_by("ssh")
    hosts = tuple(dataclasses.replace(h, instance_id=f"i-{h.container}", container=None) for h in ssh.all_hosts)
    outputs = dataclasses.replace(ssh, all_hosts=hosts)
    with FakeEcs({f"i-{h.container}": str(h.container) for h in ssh.all_hosts}, "LTAI-drill", "drill-secret") as api:
        monkeypatch.setenv(ENDPOINT_ENV, api.endpoint)
        monkeypatch.setenv(KEY_ID_ENV, "LTAI-drill")
        monkeypatch.setenv(KEY_SECRET_ENV, "drill-secret")
        journal = run_experiment(find_experiments([ON_ECS])[0], outputs,
                                 EngineForbidden(containers.client, steady.stack), tmp_path, RunOptions())
    assert_drill_ran_and_undid_its_faults(json.loads(journal.path.read_text()), ON_ECS)
    assert journal.verdict == "pass", journal.reason
    assert all(call["status"] == 200 for call in api.calls), [c for c in api.calls if c["status"] != 200]
    stops = [c["query"] for c in api.calls if c["action"] == "StopInstances"]
    primary = {h.instance_id for h in outputs.hosts(site=outputs.primary_site.name)}
    assert len(stops) == 1 and stops[0]["ForceStop"] == "True" and stops[0]["StoppedMode"] == "KeepCharging"
    assert {v for k, v in stops[0].items() if k.startswith("InstanceId.")} == primary, "the whole site in one call"
    starts = [c["query"] for c in api.calls if c["action"] == "StartInstances"]
    assert len(starts) == 1 and {v for k, v in starts[0].items() if k.startswith("InstanceId.")} == primary
    assert not cleanup(containers, steady), "the experiment left a fault behind"


def _write(tmp_path: Path, name: str, method: list[dict], probes: list[dict] | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "title": name, "failure_mode": "none",
        "steady-state-hypothesis": {"probes": probes or [{"name": "reachable", "probe": "service-ready"}]},
        "method": method,
    }))
    return path


def test_a_failing_steady_state_is_a_failed_experiment_not_a_crash(steady, containers, tmp_path: Path) -> None:
    during = _write(tmp_path, "strict", [{"name": "cut", "fault": "uplink-cut", "arguments": {"uplink": 0},
                                          "hold_s": 3}],
                    [{"name": "every-uplink", "probe": "service-ready", "arguments": {"need": "all"}}])
    journal = run_experiment(load_experiment(during), steady, containers, tmp_path, RunOptions(with_load=False))
    assert (journal.status, journal.deviated, journal.verdict) == ("completed", True, "fail")
    assert journal.activities[0].phases["detected"] is not None
    assert all(p["enabled"] for p in Toxiproxy(str(steady.toxiproxy_api)).proxies().values())
    before = _write(tmp_path, "impossible", [{"name": "cut", "fault": "uplink-cut", "hold_s": 3}],
                    [{"name": "five-standbys", "probe": "standby-streaming", "arguments": {"count": 5}}])
    journal = run_experiment(load_experiment(before), steady, containers, tmp_path, RunOptions(with_load=False))
    assert journal.verdict == "fail" and "did not hold before" in journal.reason
    assert not journal.activities, "nothing may be injected when the steady state fails first"


def test_a_malformed_file_is_refused_before_anything_is_injected(steady, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"version": 1, "title": "x", "failure_mode": "none",
                                   "steady-state-hypothesis": {"probes": [{"name": "r", "probe": "service-ready"}]},
                                   "method": [{"name": "x", "fault": "uplink-cut", "hold_s": -1}]}))
    result = subprocess.run([str(HARNESS), "chaos", "uplink-outage", str(bad)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert "method[0].hold_s: must be between 0 and 300" in result.stderr
    proxies = Toxiproxy(str(steady.toxiproxy_api)).proxies().values()
    assert all(p["enabled"] for p in proxies)
    assert not any(t["name"].startswith(TOXIC_PREFIX) for p in proxies for t in p["toxics"])


def _leftovers(outputs, containers) -> dict[str, bool]:
    """Which kinds of harness fault are in effect on the stack right now (read directly, not through cleanup)."""
    api = Toxiproxy(str(outputs.toxiproxy_api))
    toxics = any(t["name"].startswith(TOXIC_PREFIX) for p in api.proxies().values() for t in p["toxics"])
    listed = containers.client.containers.list(all=True, filters={"label": f"ihh.stack={outputs.stack}"})
    stopped = any(c.status != "running" for c in listed)
    held = False  # a service a crash over SSH holds stopped, read from inside the container (not over SSH)
    for host in outputs.hosts():
        names = [s.supervisor for s in host.services]
        if names and containers.client.containers.get(host.container).status == "running":
            status = containers.client.containers.get(host.container).exec_run(["supervisorctl", "status", *names])
            held |= any("RUNNING" not in line for line in status.output.decode().splitlines() if line.strip())
    rules = qdiscs = False
    for host in outputs.hosts():
        try:
            ns = containers.netns(host)
        except RuntimeError:
            continue  # not running: counted as a stopped container above
        rules |= "ihh-drill:" in ns.run("iptables", "-S", check=False).stdout
        qdiscs |= QDISC_HANDLE in ns.run("tc", "qdisc", "show", check=False).stdout
    return {"toxic": toxics, "stopped container": stopped, "stopped service": held, "iptables rule": rules,
            "qdisc": qdiscs}


def test_sigkill_mid_fault_then_cleanup_leaves_nothing(steady, containers, tmp_path: Path) -> None:
    drills = {
        "toxic": {"name": "latency", "fault": "uplink-toxic", "hold_s": 120,
                  "arguments": {"uplink": 0, "toxic": "latency", "attributes": {"latency": 500}}},
        "stopped service": {"name": "kill", "fault": "container-kill", "hold_s": 120,
                            "arguments": {"role": "app", "index": 1}},
        "iptables rule": {"name": "cut", "fault": "udp-loss", "hold_s": 120,
                          "arguments": {"role": "av", "index": 1, "probability": 0.5}},
        "qdisc": {"name": "squeeze", "fault": "udp-rate", "hold_s": 120, "arguments": {"role": "av", "index": 1}},
    }
    for kind, step in drills.items():
        path = _write(tmp_path, kind.replace(" ", "-"), [step])
        out = tmp_path / f"out-{kind.replace(' ', '-')}"
        command = [str(HARNESS), "chaos", "--target", "ssh", "--no-load", "--out", str(out), str(path)]
        process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        journal = out / path.stem / "journal.json"

        def injected(journal: Path = journal) -> bool:
            if not journal.exists():
                return False
            return any(a["phases"].get("injected") for a in json.loads(journal.read_text())["activities"])

        try:
            wait_for(f"{kind} injected", injected, timeout=90)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        assert _leftovers(steady, containers)[kind], f"SIGKILL should have left the {kind} behind"
    result = subprocess.run([str(HARNESS), "chaos", "--target", "ssh", "--cleanup"], capture_output=True, text=True,
                            timeout=180, check=True)
    assert "undone:" in result.stdout
    assert not any(_leftovers(steady, containers).values()), _leftovers(steady, containers)
    again = subprocess.run([str(HARNESS), "chaos", "--cleanup"], capture_output=True, text=True, timeout=180,
                           check=True)
    assert "nothing to clean up" in again.stdout
    # what cleanup left is a stack the next drill starts from: whole, and serving on every uplink
    wait_cluster_whole(steady, "a whole cluster after cleanup", log_tail=containers.log_tail)
    wait_for("ready on every uplink", lambda: ready_on_every_uplink(steady), timeout=120)
    assert not any(_leftovers(steady, containers).values())


def test_cleanup_removes_a_wal_disk_filler_a_killed_drill_left(steady, containers) -> None:
    """The wal-disk-full drill's filler is its own mark: after a SIGKILL, --cleanup finds and deletes it."""
    from harness.core.ssh import Sessions
    from infra.drill_access import FILLER

    standby = next(h.name for h in steady.hosts(role="database")
                   if h.name != wait_for("a leader", lambda: Patroni(steady).leader(timeout_s=2), timeout=60))
    with Sessions(steady) as ssh:
        ssh.run(standby, f"fallocate -l 1048576 {FILLER}")
        undone = cleanup(containers, steady)
        assert any(f"WAL disk filler removed on {standby}" in line for line in undone), undone
        assert ssh.result(standby, f"test -e {FILLER}").exit_code == 1, "the filler is still there"

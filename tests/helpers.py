"""Helpers for tests that run the program under mocks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from harness.core.graph import to_public_json
from harness.core.outputs import StackOutputs
from harness.provisioning.mockrun import ProgramRun, read_stack_config, run_program
from infra.policy.rules import Subject, subjects_from


def stack_values(stack: str, **overrides: Any) -> dict[str, Any]:
    """A stack's committed config with some keys replaced."""
    values = copy.deepcopy(read_stack_config(stack))
    values.update(overrides)
    return values


def program(stack: str, **overrides: Any) -> ProgramRun:
    return run_program(stack, stack_values(stack, **overrides))


def subjects(stack: str, **overrides: Any) -> list[Subject]:
    return subjects_from(program(stack, **overrides).graph.resources)


def relabel(subjects_: list[Subject], host: str, **labels: str) -> list[Subject]:
    """The same subjects with labels of the resource named ``host`` changed (keys use '_' for '.' and '-')."""
    changed = []
    for subject in subjects_:
        if subject.labels.get("ihh.host") == host and "ihh.roles" in subject.labels:
            merged = dict(subject.labels)
            for key, value in labels.items():
                merged["ihh." + key.replace("__", ".").replace("_", "-")] = value
            subject = Subject(subject.urn, subject.type, subject.name, merged)
        changed.append(subject)
    return changed


def outputs_record(members: tuple[str, ...] = ("db-1", "db-2"), sites: tuple[str, ...] = ("sh", "sz"),
                   uplinks: tuple[str, ...] = ("line-a", "line-b")) -> dict[str, Any]:
    """A small outputs record of the shape the program produces, for tests of code that reads outputs."""
    def host(name: str, roles: list[str], site: str = "gz") -> dict[str, Any]:
        return {"name": name, "roles": roles, "site": site, "region": "cn-guangzhou", "ssh": "127.0.0.1:22001",
                "ssh_host_key": "ssh-ed25519 AAAA", "container": f"t-{name}"}

    return {
        "stack": "t", "platform": "docker", "primary_site": {"name": "gz", "region": "cn-guangzhou"},
        "uplinks": [{"name": u, "provider": f"isp-{i}", "bandwidth_mbps": 20, "url": f"http://127.0.0.1:1800{i}",
                     "toxiproxy_proxy": f"proxy-{u}", "ingress_host": f"ingress-{i}"} for i, u in enumerate(uplinks)],
        "toxiproxy_api": "http://127.0.0.1:18474",
        "av_nodes": [{"name": "turn-1", "turn": "127.0.0.1:3478", "turn_tcp": "127.0.0.1:3478", "realm": "r",
                      "internal_port": 3478}],
        "hosts": [*(host(m, ["database"]) for m in members), host("app-1", ["app"]),
                  *(host(f"backup-{s}", ["backup"], s) for s in sites)],
        "ssh_user": "ihh-ops",
        "backup_sites": [{"name": s, "region": "cn-shanghai", "host": f"backup-{s}", "repository": i + 1,
                          "retention_days": 1830} for i, s in enumerate(sites)],
        "database": {"scope": "ihh", "dbname": "ihh", "user": "ihh_app", "stanza": "main",
                     "members": [{"name": m, "postgres": f"127.0.0.1:1543{i}", "patroni": f"127.0.0.1:1800{i}"}
                                 for i, m in enumerate(members)]},
        "restore_projection": {"data_gb": 500, "wal_gb": 50},
        "availability": {"target": 0.999, "incidents_per_year": {"uplink-outage": 4}},
        "backup_schedule": {"full_s": 604800, "diff_s": 86400, "incr_s": 3600, "slack_s": 1800},
        "secrets": {"db_app_password": "pw"},
    }


def run_folder(tmp_path: Path) -> tuple[Path, dict]:
    """A run folder as `harness all` starts it: the applied graph, public outputs, provenance."""
    run = program("local")
    folder = tmp_path / "evidence" / "20261125T000000Z"
    (folder / "stack").mkdir(parents=True)
    (folder / "stack" / "graph.json").write_text(json.dumps(to_public_json(run.graph)))
    (folder / "stack" / "outputs.json").write_text(json.dumps(StackOutputs.parse("local", run.outputs).public()))
    (folder / "stack" / "provenance.json").write_text(json.dumps({
        "project_commit": "0123456789abcdef", "project_tree_dirty": False, "stack_config_sha256": "ab" * 32,
        "tool_versions": {}, "machine": {}}))
    return folder, run.outputs


def as_root_in_container(containers: Any, outputs: StackOutputs, host: str, command: str) -> str:
    """``command`` (a shell line) as root in ``host``'s container, through the engine: what a test changes or
    reads beyond the drills' own commands (the ops account's sudo runs the drill wrapper only)."""
    container = containers.client.containers.get(outputs.host(host).container)
    code, output = container.exec_run(["sh", "-c", command])
    text = output.decode(errors="replace")
    if code != 0:
        raise AssertionError(f"{host}: `{command}` exited {code}: {text[-800:]}")
    return text

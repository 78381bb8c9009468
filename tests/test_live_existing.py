"""An ``existing`` stack: servers the harness did not create, declared in an inventory and reached only over SSH.

The local stack's containers stand in for a hospital's own servers: their SSH addresses, host keys and endpoints
go into ``ihh:existing`` of a stack config in a folder of the test's own (``IHH_STACKS_DIR``), as an operator
would write them, and the harness runs against that stack through its command line, as an operator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.state import outputs_path
from tests.existing_inventory import inventory_from, write_existing_stack

pytestmark = pytest.mark.live
HARNESS = Path(sys.executable).with_name("harness")
STACK = "existing-local"


def _harness(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HARNESS), "-s", STACK, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _environment(outputs, folder: Path, change: dict | None = None) -> dict[str, str]:
    secrets = write_existing_stack(outputs, folder, STACK, change)
    return {**os.environ, **secrets, "IHH_STACKS_DIR": str(folder)}


def test_an_inventory_is_reached_as_declared_and_a_wrong_one_refused_by_field(outputs, tmp_path: Path) -> None:
    env = _environment(outputs, tmp_path / "stacks")
    up = _harness(env, "up", timeout=120)
    assert up.returncode == 0, up.stderr
    assert "reach each of the 14 declared hosts over SSH, as declared: done" in up.stderr
    declared = json.loads(outputs_path(STACK).read_text())
    assert declared["platform"] == "existing" and all(h["container"] is None for h in declared["hosts"])

    inventory = inventory_from(outputs)
    hosts = inventory["hosts"]
    db2 = next(i for i, h in enumerate(hosts) if h["name"] == "db-2")
    hosts[db2]["hostKey"] = next(h["hostKey"] for h in hosts if h["name"] == "db-1")  # a copy-paste slip
    wrong = _harness(_environment(outputs, tmp_path / "wrong-key", {"existing": inventory}), "up", timeout=120)
    assert wrong.returncode == 2, wrong.stderr
    assert (f"existing.hosts[{db2}].hostKey: db-2 at {hosts[db2]['ssh']} presented another host key than the one "
            "declared") in wrong.stderr
    assert not outputs_path(STACK).exists(), "no drill may run on an inventory that did not hold"
    refused = _harness(env, "chaos", "app-server-kill", timeout=60)
    assert refused.returncode == 2 and "has no outputs" in refused.stderr, refused.stderr

    hosts[db2]["hostKey"] = next(h["hostKey"] for h in hosts if h["name"] == "db-2")
    hosts[db2]["roles"] = ["web"]
    unknown = _harness(_environment(outputs, tmp_path / "unknown-role", {"existing": inventory}), "up", timeout=60)
    assert unknown.returncode == 2
    assert f"config ihh:existing.hosts[{db2}].roles[0]: unknown role 'web'" in unknown.stderr, unknown.stderr


def test_harness_all_quick_on_an_existing_stack_ends_in_a_signed_bundle(outputs, tmp_path: Path) -> None:
    env = {**_environment(outputs, tmp_path / "stacks"), "IHH_EVIDENCE_DIR": str(tmp_path / "evidence")}
    run = _harness(env, "all", "--quick", timeout=1200)
    assert run.returncode in (0, 1), run.stderr[-3000:]  # 1: a verdict failed, the bundle still sealed
    run_dir = next((tmp_path / "evidence").glob("runs/*"))
    state = json.loads((run_dir / "run.json").read_text())
    assert state["finished"] and all(s["status"] == "done" for s in state["steps"].values()), state["steps"]
    verified = subprocess.run([str(HARNESS), "verify-evidence", "--json", str(run_dir / "bundle")], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert verified.returncode in (0, 4) and json.loads(verified.stdout)["status"] in ("verified", "unknown_signer")
    journals = {p.parent.name: json.loads(p.read_text()) for p in (run_dir / "chaos").glob("*/journal.json")}
    assert journals["app-server-kill"]["verdict"] == "pass", journals["app-server-kill"]["reason"]
    assert any("over SSH" in a["description"] for a in journals["app-server-kill"]["activities"]
               if a["kind"] == "action"), "servers of an existing stack are crashed over SSH"
    # real lines have no simulator in front of them: the uplink drill claims nothing
    assert journals["uplink-outage"]["verdict"] == "not_tested", journals["uplink-outage"]["reason"]

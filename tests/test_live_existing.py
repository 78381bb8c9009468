"""An ``existing`` stack: servers the harness did not create, declared in an inventory and reached only over SSH.

The local stack's containers stand in for a hospital's own servers: their SSH addresses, host keys and endpoints
go into ``ihh:existing`` of a stack config in a folder of the test's own (``IHH_STACKS_DIR``), as an operator
would write them, and the harness runs against that stack through its command line, as an operator would.
`harness all --quick` on such a stack, to a signed bundle, is test_live_evidence's quick run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.cleanup import cleanup
from harness.core.state import outputs_path
from tests.existing_inventory import inventory_from, write_existing_stack

pytestmark = pytest.mark.live
HARNESS = Path(sys.executable).with_name("harness")
STACK = "existing-inventory"


def _harness(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HARNESS), "-s", STACK, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _environment(outputs, folder: Path, change: dict | None = None, simulator: bool = True) -> dict[str, str]:
    secrets = write_existing_stack(outputs, folder, STACK, change, simulator)
    return {**os.environ, **secrets, "IHH_STACKS_DIR": str(folder)}


def test_an_inventory_is_reached_as_declared_and_a_wrong_one_refused_by_field(outputs, tmp_path: Path) -> None:
    env = _environment(outputs, tmp_path / "stacks")
    up = _harness(env, "up", timeout=120)
    assert up.returncode == 0, up.stderr
    assert "reach each of the 15 declared hosts over SSH, as declared: done" in up.stderr
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
    assert refused.returncode == 3 and "has no outputs" in refused.stderr, refused.stderr  # could not run

    hosts[db2]["hostKey"] = next(h["hostKey"] for h in hosts if h["name"] == "db-2")
    hosts[db2]["roles"] = ["web"]
    unknown = _harness(_environment(outputs, tmp_path / "unknown-role", {"existing": inventory}), "up", timeout=60)
    assert unknown.returncode == 2
    assert f"config ihh:existing.hosts[{db2}].roles[0]: unknown role 'web'" in unknown.stderr, unknown.stderr


def test_a_real_line_is_cut_at_its_ingress_host(outputs, containers, tmp_path: Path) -> None:
    """No simulator in front of the lines: the uplink drill drops every packet arriving on the line's ingress
    host (iptables over SSH), then takes the rules out; what users saw is measured, not assumed."""
    env = _environment(outputs, tmp_path / "stacks", simulator=False)
    assert _harness(env, "up", timeout=120).returncode == 0
    run = _harness(env, "chaos", "--out", str(tmp_path / "out"), "uplink-outage", timeout=600)
    assert run.returncode in (0, 1), run.stderr[-2000:]
    journal = json.loads((tmp_path / "out" / "uplink-outage" / "journal.json").read_text())
    actions = [a for a in journal["activities"] if a["kind"] == "action"]
    assert [a["status"] for a in actions] == ["succeeded", "succeeded"], actions
    notes = [n for a in actions for n in a["notes"]]
    assert "line telecom cut at ingress-telecom (ssh)" in notes and "line unicom cut at ingress-unicom (ssh)" in notes
    assert journal["verdict"] in ("pass", "fail") and journal["measurements"]["acknowledged_writes"] > 0
    assert not cleanup(containers, outputs), "the line's rules were left on its ingress host"

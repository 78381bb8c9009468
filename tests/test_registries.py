"""One table per kind of name: what experiment files may name, what --dry-run describes and what the runner runs."""

from __future__ import annotations

import pytest

from chaos.experiment import find_experiments
from chaos.faults import FAULTS, FaultContext, describe
from chaos.probes import PROBES
from chaos.rollbacks import ROLLBACKS
from harness.core.outputs import StackOutputs
from harness.core.registry import Registry, UnknownEntryError
from infra.policy.rules import RULES, rule_requirements
from tests.helpers import outputs_record


def test_a_name_is_registered_once_and_an_unknown_one_lists_the_known() -> None:
    table: Registry[int] = Registry("widget")
    table.register("a")(1)
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        table.add("a", 2)
    with pytest.raises(UnknownEntryError, match="unknown widget 'b'; known: a"):
        table.get("b")


def test_every_name_a_committed_experiment_uses_is_registered() -> None:
    for experiment in find_experiments([]):
        assert all(step.fault in FAULTS for step in experiment.method), experiment.name
        assert all(p.probe in PROBES for p in (*experiment.probes, *experiment.monitors)), experiment.name
        assert all(r in ROLLBACKS for r in experiment.rollbacks), experiment.name


def test_every_fault_describes_itself_from_the_outputs_alone() -> None:
    """--dry-run reads the same table as the runner: a description for every fault, nothing touched."""
    outputs = StackOutputs.parse("t", outputs_record())
    context = FaultContext(outputs, containers=None)  # type: ignore[arg-type] - describing touches nothing
    args = {"uplink-cut": {"uplink": 1}, "uplink-toxic": {"toxic": "latency"}, "container-kill": {"role": "app"},
            "site-power-loss": {}, "host-unreachable": {"backup_site": 1}, "udp-loss": {"host": "app-1"},
            "udp-rate": {"role": "database", "index": 1}, "udp-delay": {"host": "db-1"},
            "media-impair": {"node": 0, "delay_ms": 150, "jitter_ms": 40},
            "supervision-mode": {"mode": "slow", "per_record_s": 0.05}}
    for name in FAULTS:
        text = describe(context, name, args.get(name, {}))
        assert text and "None" not in text, (name, text)
    assert "proxy-line-b" in describe(context, "uplink-cut", {"uplink": 1})
    real_lines = FaultContext(StackOutputs.parse("t", {**outputs_record(), "toxiproxy_api": None}), containers=None)
    assert "drop every packet arriving on ingress-1's ports 443, 80 (iptables INPUT)" in describe(
        real_lines, "uplink-cut", {"uplink": 1}), "a real line, no simulator in front: cut at its ingress host"
    assert "backup-sz" in describe(context, "host-unreachable", {"backup_site": 1})
    assert "TURN node turn-1" in describe(context, "media-impair", args["media-impair"])
    with pytest.raises(ValueError, match="supervision-mode: mode must be one of slow"):
        describe(context, "supervision-mode", {"mode": "normal"})
    with pytest.raises(ValueError, match="give at least one of delay_ms"):
        describe(context, "media-impair", {"node": 0})
    assert "db-1: SIGKILL container t-db-1; db-2: SIGKILL container t-db-2; app-1: SIGKILL container t-app-1" in (
        describe(context, "site-power-loss", {}))


def test_policy_rules_name_their_requirements_once() -> None:
    assert len({r.name for r in RULES}) == len(RULES)
    assert set(rule_requirements()) >= {"GD-1.2.3a", "GD-1.2.5", "EH-2.2.3", "TM-5.2"}

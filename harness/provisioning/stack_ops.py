"""The stack operations behind ``harness up`` and ``down``: run the program, check the rules, apply."""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.core.outputs import StackOutputs, save_outputs
from harness.core.pgbackrest import PgBackRest
from harness.core.progress import say, step
from harness.core.ssh import Sessions
from harness.core.state import (
    forget,
    generated_state,
    has_generated_state,
    instance_id,
    outputs_path,
    save_generated_state,
    stack_dir,
)
from harness.provisioning import local_disks
from harness.provisioning.base_image import ensure_base_image
from harness.provisioning.docker_apply import ApplyReport, DockerApplier, disk_of
from harness.provisioning.engine import check_free_space, ensure_engine
from harness.provisioning.inventory_reach import refuse_unreachable
from harness.provisioning.mockrun import ProgramRun, read_stack_config, run_program
from harness.provisioning.patroni_config import converge
from harness.provisioning.run_snapshot import save_applied_graph
from harness.provisioning.service_schema import apply_service_schema
from harness.provisioning.toxiproxy_build import ensure_toxiproxy
from infra.config import ConfigError
from infra.policy.rules import Violation, check, subjects_from


class PolicyViolationsError(RuntimeError):
    """The declared topology breaks requirement rules; nothing was applied."""

    def __init__(self, violations: list[Violation]) -> None:
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"{len(violations)} policy violation(s); nothing was created:\n{lines}")
        self.violations = violations


@dataclass
class UpResult:
    report: ApplyReport
    seconds: float


def run_and_check(stack: str) -> tuple[ProgramRun, list[Violation]]:
    """Run the program under mocks and every policy rule over its graph."""
    run = run_program(stack, read_stack_config(stack), generated_state(stack))
    return run, check(subjects_from(run.graph.resources))


def preview(stack: str) -> ProgramRun:
    """Run the program under mocks and the rules over its graph; raise on any violation."""
    run, violations = run_and_check(stack)
    if violations:
        raise PolicyViolationsError(violations)
    return run


def setup() -> None:
    """Everything ``up`` needs on this machine: engine, base image, Toxiproxy binary.

    A daemon that setup had to start is stopped again: setup leaves no process behind.
    """
    engine = ensure_engine()
    try:
        ensure_base_image(engine.client)
        ensure_toxiproxy()
    finally:
        engine.stop_if_ours()


def prepare_disks(stack: str) -> list[str]:
    """The disks a local stack declares, made and mounted: what `pulumi up` of the local stack needs first
    (the engine binds a directory; the loop-mounted filesystem behind it is this machine's business)."""
    run = preview(stack)
    disks = [disk for r in run.graph.resources if (disk := disk_of(r)) is not None]
    for mountpoint, size_mb in disks:
        local_disks.ensure(mountpoint, size_mb)
    return [f"{mountpoint} ({size_mb} MB)" for mountpoint, size_mb in disks]


def up(stack: str) -> UpResult:
    started = time.monotonic()
    if read_stack_config(stack).get("platform") == "existing":
        return up_existing(stack, started)
    with step("prepare engine, base image and Toxiproxy"):
        engine = ensure_engine()
        check_free_space(engine.client)
        ensure_base_image(engine.client)
        ensure_toxiproxy()
    had_state = has_generated_state(stack)
    with step(f"run the program for stack {stack!r} and check the rules"):
        run = preview(stack)
        say(f"{len(run.graph.resources)} resources declared, no policy violation")
    if run.config.platform != "docker":
        raise RuntimeError(
            f"stack {stack!r} targets {run.config.platform}; the offline executor applies docker stacks only. "
            f"Use `pulumi up -s {stack}` with the Pulumi CLI."
        )
    applier = DockerApplier(engine.client, stack, instance_id(stack))
    applier.refuse_foreign(had_state)
    save_generated_state(stack, run.state)
    report = applier.apply(run.graph)
    save_outputs(stack, run.outputs)
    save_applied_graph(stack, run)
    outputs = StackOutputs.load(stack)
    with step("converge Patroni's failover timing with the stack config"):
        converge(outputs, run.config.database)
    if outputs.hosts(role="database"):
        with step("bring the service schema up to date on the primary"):
            apply_service_schema(outputs)
    marker = stack_dir(stack) / "first-backups.done"
    if report.changed or not marker.exists():  # an up that changed nothing made no new cluster
        first_full_backups(outputs)
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return UpResult(report=report, seconds=time.monotonic() - started)


def up_existing(stack: str, started: float) -> UpResult:
    """An ``existing`` stack: the program and its rules over the inventory, then every host reached as declared.
    Nothing is created; the outputs are kept only when every host answered."""
    with step(f"run the program for stack {stack!r} and check the rules"):
        run = preview(stack)
        say(f"{len(run.graph.resources)} resources declared, no policy violation")
    save_outputs(stack, run.outputs)
    outputs = StackOutputs.load(stack)
    with step(f"reach each of the {len(outputs.hosts())} declared hosts over SSH, as declared"):
        try:
            refuse_unreachable(outputs, run.config.existing)  # type: ignore[arg-type]
        except ConfigError:
            outputs_path(stack).unlink()  # no drill may start on an inventory that does not hold
            raise
    save_applied_graph(stack, run)  # the declaration the rules judged: the evidence's topology
    return UpResult(report=ApplyReport(unchanged=[h.name for h in outputs.hosts()]),
                    seconds=time.monotonic() - started)


def first_full_backups(outputs: StackOutputs) -> None:
    """A new cluster gets a full backup in every copy before `up` returns; an existing one is left alone."""
    with Sessions(outputs) as ssh, step("a full backup in every copy"):
        pgbackrest = PgBackRest(outputs, ssh)
        for site in outputs.backup_sites:
            record = pgbackrest.ensure_full_backup(site)
            say(f"{site.name}: " + ("holds a full backup already" if record is None else
                                    f"full backup {record.label}: {record.database_bytes / 1e6:.0f} MB in "
                                    f"{record.seconds:.1f} s"))
        say(f"every copy ({', '.join(s.name for s in outputs.backup_sites)}) holds a full backup")


def down(stack: str) -> ApplyReport:
    engine = ensure_engine()
    report = DockerApplier(engine.client, stack).destroy()
    forget(stack)
    return report

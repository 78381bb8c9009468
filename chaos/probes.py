"""Steady-state probes: each asks the running stack one question through its outputs only.

A probe returns (ok, detail) and never raises for a failing stack: a refused
connection is a failed probe, recorded in the timeline, not a crashed drill. Each
registers itself in ``PROBES``, the table the experiment validator and the runner read.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import paramiko

from chaos.av_call import CallSetupError, RunningCall, start_call
from harness.core.database import connect, member_writable
from harness.core.http_json import UplinkWriteError, post_through_uplinks, ready_as_a_client
from harness.core.media_call import CallReport
from harness.core.outputs import StackOutputs
from harness.core.patroni import Patroni, PatroniError
from harness.core.pgbackrest import PgBackRest, switch_wal, wait_archived
from harness.core.registry import Registry
from harness.core.ssh import Sessions
from harness.core.supervision import (
    OutboxRecord,
    Reconciliation,
    SimulatorControl,
    SupervisionError,
    outbox_head,
    pending_between,
    reconcile_window,
)
from harness.core.turn import TurnError, allocate
from harness.core.waiting import WaitTimeoutError, wait_for
from harness.core.wal_disk import MAX_WAL_COMMAND, STATFS_COMMAND, alarm_free_bytes, parse_statfs
from loadtests.identities import mobile, resident_id

Result = tuple[bool, str]
Probe = Callable[["ProbeContext", dict[str, Any]], Result]
PROBES: Registry[Probe] = Registry("probe")


@dataclass
class ProbeContext:
    """What probes share during one experiment: the outputs, the leader at the start, the writes committed."""

    outputs: StackOutputs
    initial_leader: str | None = None
    committed: list[int] = field(default_factory=list)
    """Patient ids whose registration the service acknowledged: RPO is counted on them."""
    rng: random.Random = field(default_factory=random.Random)
    max_wal: dict[str, int] = field(default_factory=dict)
    """Each member's max_wal_size in bytes, read once: the WAL disk's alarm level is twice it."""
    calls: dict[int, RunningCall] = field(default_factory=dict)
    """The calls ``media-call`` probes carry, by the TURN node they started on; stopped by ``finish_calls``."""
    upload_since: int | None = None
    """The outbox id after which the drill's own records begin (``supervision-steady``, before any fault)."""
    uploads: UploadWindow | None = None
    """What ``supervision-drained`` found: the drill's records and how the platform holds them."""
    _ssh: Sessions | None = None

    @property
    def patroni(self) -> Patroni:
        return Patroni(self.outputs)

    @property
    def ssh(self) -> Sessions:
        """SSH sessions kept for the experiment: a probe asked twice a second must not reconnect each time."""
        if self._ssh is None:
            self._ssh = Sessions(self.outputs)
        return self._ssh

    def finish_calls(self) -> list[CallReport]:
        """Stop every call the probes carried; their reports (a call whose thread did not end has none)."""
        reports = [call.finish() for call in self.calls.values()]
        self.calls.clear()
        return [r for r in reports if r is not None]

    def close(self) -> None:
        self.finish_calls()
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None


@dataclass(frozen=True)
class UploadWindow:
    """The records a drill committed for the supervision platform, and their reconciliation with its log."""

    records: list[OutboxRecord]
    reconciliation: Reconciliation


def _select(items: list[Any], need: str, ok: list[bool], what: str) -> Result:
    good = sum(ok)
    passed = good == len(items) if need == "all" else good >= 1
    return passed, f"{good}/{len(items)} {what}"


@PROBES.register("service-ready")
def service_ready(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """Ready through the uplinks, each asked as a client asks (once more when a connection is cut unanswered); the
    detail names the uplinks that needed it, since the raw cut is the load's to count (raw_error_window_s)."""
    uplinks = ctx.outputs.uplinks
    answers = [ready_as_a_client(u.url, timeout_s=float(args.get("timeout_s", 2)), ca=ctx.outputs.ca_cert_path)
               for u in uplinks]
    passed, detail = _select(uplinks, args.get("need", "any"), [ok for ok, _ in answers], "uplinks ready")
    retried = [u.name for u, (_, again) in zip(uplinks, answers, strict=True) if again]
    return passed, detail + (f" ({', '.join(retried)} asked again: connection cut unanswered)" if retried else "")


@PROBES.register("service-write")
def service_write(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """A real write (patient registration), tried on each uplink in turn as a client would."""
    body = {"name": "演练探针 drill probe", "id_number": resident_id(ctx.rng), "mobile": mobile(ctx.rng)}
    uplink, answer, _ = post_through_uplinks(ctx.outputs, "/v1/patients", body, {"Idempotency-Key": uuid.uuid4().hex},
                                             float(args.get("timeout_s", 2)))
    if uplink is None:
        return False, "no uplink accepted the write"
    ctx.committed.append(int(answer["patient_id"]))
    return True, f"written through {uplink}"


@PROBES.register("turn-allocate")
def turn_allocate(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    secret = ctx.outputs.secret("turn_shared_secret")
    nodes = ctx.outputs.av_nodes
    results = []
    for node in nodes:
        try:
            allocate(node.turn, secret, user="ihh-drill", timeout_s=float(args.get("timeout_s", 1.0)))
            results.append(True)
        except (TurnError, OSError):
            results.append(False)
    return _select(nodes, args.get("need", "any"), results, "TURN nodes allocate")


CALL_LENGTH_S = 600.0
"""The longest a drill's call runs; the drill stops it sooner, when it measures."""


@PROBES.register("media-call")
def media_call(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """A call through TURN node number ``through``, set up through the service at the first round and carried
    from then on; it holds while media arrived in the last ``silence_s`` (moving nodes on its own after
    ``restart_after_s`` of silence, as an ICE restart does)."""
    through = int(args.get("through", 0))
    if through not in ctx.calls:
        try:
            ctx.calls[through] = start_call(ctx.outputs, ctx.rng, through, CALL_LENGTH_S,
                                            float(args.get("restart_after_s", 1.0)))
        except (CallSetupError, UplinkWriteError, TurnError, OSError, ValueError) as exc:
            return False, f"call not set up: {exc}"
    running = ctx.calls[through]
    if not running.thread.is_alive():
        report = running.result[0] if running.result else None
        return False, f"call ended: {report.dropped if report else 'its thread died'}"
    silent = running.call.silent_for()
    return silent <= float(args.get("silence_s", 0.5)), f"media through {running.call.node}, silent {silent:.2f} s"


@PROBES.register("database-leader")
def database_leader(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    try:
        return True, f"leader {ctx.patroni.leader(timeout_s=1.5)}"
    except PatroniError as exc:
        return False, str(exc)


@PROBES.register("standby-streaming")
def standby_streaming(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    try:
        standbys = ctx.patroni.streaming_standbys(timeout_s=1.5, synchronous=bool(args.get("synchronous", False)))
    except PatroniError as exc:
        return False, str(exc)
    need = int(args.get("count", 1))
    return len(standbys) >= need, f"streaming: {', '.join(standbys) or 'none'}"


@PROBES.register("writable-members")
def writable_members(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """At most one member's PostgreSQL accepts writes at this instant, asked of every member directly."""
    members = [m.name for m in ctx.outputs.database.members]
    with ThreadPoolExecutor(max_workers=len(members)) as pool:  # every member at the same instant
        asked = pool.map(lambda name: member_writable(ctx.outputs, name, timeout_s=int(args.get("timeout_s", 1))),
                         members)
        answers = dict(zip(members, asked, strict=True))
    writable = [name for name, ok in answers.items() if ok]
    detail = ", ".join(f"{n} {WRITABLE if ok else 'standby' if ok is False else 'unreachable'}"
                       for n, ok in answers.items())
    return len(writable) <= int(args.get("at_most", 1)), detail


WAL_ALARM = "alarm"
"""The word in wal-headroom's detail for a member below its alarm level (not merely unreadable)."""


@PROBES.register("wal-headroom")
def wal_headroom(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """Every member's WAL disk above its alarm level (the host check's rule): the warning before a PANIC."""
    answers = []
    for member in ctx.outputs.database.members:
        try:
            if member.name not in ctx.max_wal:  # read while PostgreSQL answers (the hypothesis before the fault)
                ctx.max_wal[member.name] = int(ctx.ssh.run(member.name, MAX_WAL_COMMAND, timeout_s=5))
            wal, _ = parse_statfs(ctx.ssh.run(member.name, STATFS_COMMAND, timeout_s=5))
            ok = wal.free_bytes >= alarm_free_bytes(ctx.max_wal[member.name])
            answers.append((ok, f"{member.name} {wal}" + ("" if ok else f" ({WAL_ALARM})")))
        except (OSError, RuntimeError, ValueError, paramiko.SSHException) as exc:
            ctx.ssh.forget(member.name)
            answers.append((False, f"{member.name} unreadable: {exc}"))
    return all(ok for ok, _ in answers), ", ".join(detail for _, detail in answers)


WRITABLE = "writable"


def writable_in(detail: str) -> set[str]:
    """The members a writable-members detail ("db-1 writable, db-2 standby") names as taking writes."""
    return {part.split()[0] for part in detail.split(", ") if part.endswith(f" {WRITABLE}")}


@PROBES.register("leader-unchanged")
def leader_unchanged(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    try:
        now = ctx.patroni.leader(timeout_s=1.5)
    except PatroniError as exc:
        return False, str(exc)
    if ctx.initial_leader is None:
        ctx.initial_leader = now
    return now == ctx.initial_leader, f"leader {now} (was {ctx.initial_leader})"


@PROBES.register("wal-archived")
def wal_archived(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """A WAL segment switched now lands in the named copy within the timeout."""
    site = ctx.outputs.backup_sites[int(args.get("site", 0))]
    with Sessions(ctx.outputs) as ssh:
        try:
            segment = switch_wal(ssh, ctx.patroni.leader())
            started = time.monotonic()
            wait_archived(PgBackRest(ctx.outputs, ssh), site, segment, timeout_s=float(args.get("timeout_s", 60)))
            return True, f"{segment} in {site.name} after {time.monotonic() - started:.1f} s"
        except (WaitTimeoutError, RuntimeError) as exc:
            return False, f"{site.name}: {exc}"


def committed_writes_present(ctx: ProbeContext) -> tuple[int, int]:
    """(acknowledged writes, of them present now): the drill's RPO in rows."""
    if not ctx.committed:
        return 0, 0
    with connect(ctx.outputs) as conn:
        present = conn.execute("SELECT count(*) FROM patients WHERE id = ANY(%s)", (ctx.committed,)).fetchone()[0]
    return len(ctx.committed), int(present)


def _pending_upto(ctx: ProbeContext, cutoff: int) -> int:
    with connect(ctx.outputs) as conn:
        return pending_between(conn, ctx.upload_since or 0, cutoff)


@PROBES.register("supervision-steady")
def supervision_steady(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """Uploads keep up (at most ``backlog`` records wait); the first time, where the drill's records begin."""
    if ctx.outputs.supervision is None:  # nothing measured, nothing claimed: GD-3.2.1 stays not_tested
        return True, "the stack configures no supervision platform: uploads not checked"
    with connect(ctx.outputs) as conn:
        head = outbox_head(conn)
        waiting = int(conn.execute("SELECT count(*) FROM supervision_outbox WHERE sent_at IS NULL").fetchone()[0])
    if ctx.upload_since is None:
        ctx.upload_since = head
    backlog = int(args.get("backlog", 100))
    return waiting <= backlog, f"{waiting} records waiting for upload (at most {backlog})"


@PROBES.register("supervision-drained")
def supervision_drained(ctx: ProbeContext, args: dict[str, Any]) -> Result:
    """Every record committed since the drill began (up to now) uploaded within ``within_s``, then reconciled with
    the platform's log: none missing, none held twice, in commit order per patient, ``dead_letters`` rejected."""
    supervision = ctx.outputs.supervision
    if supervision is None:
        return True, "the stack configures no supervision platform: uploads not checked"
    if ctx.upload_since is None:
        return False, "no upload window: the drill needs supervision-steady before its faults"
    with connect(ctx.outputs) as conn:
        cutoff = outbox_head(conn)
    try:
        wait_for("the records committed so far uploaded", lambda: _pending_upto(ctx, cutoff) == 0,
                 timeout=float(args.get("within_s", 180)), interval=0.5)
    except WaitTimeoutError:
        return False, f"{_pending_upto(ctx, cutoff)} records still waiting after {args.get('within_s', 180)} s"
    if not supervision.control_api:
        return True, "every record marked uploaded; the platform's own log is not readable from here"
    try:
        received = SimulatorControl(supervision.control_api, ctx.outputs.secret("supervision_control_token")
                                    ).received()
    except SupervisionError as exc:
        return False, str(exc)
    with connect(ctx.outputs) as conn:
        records, result = reconcile_window(conn, received, ctx.upload_since, cutoff)
    ctx.uploads = UploadWindow(records, result)
    expected = args.get("dead_letters")
    ok = (result.missing == 0 and result.duplicated == 0 and result.out_of_order == 0 and result.pending == 0
          and (expected is None or result.dead_lettered == int(expected)))
    return ok, (f"{result.committed} committed, {result.uploaded} held by the platform, {result.missing} missing, "
                f"{result.duplicated} duplicated, {result.out_of_order} out of order, {result.dead_lettered} "
                f"dead-lettered" + (f" (expected {expected})" if expected is not None else ""))

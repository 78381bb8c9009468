"""A client of Patroni's REST API, through the member endpoints in the stack's outputs.

Every drill, the restore drill, ``harness up`` (which converges the failover timing) and
the tests ask Patroni the same questions: who leads, who streams, is the cluster whole,
is it paused. They ask here.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from harness.core.http_json import UNREACHABLE, request_json
from harness.core.outputs import DatabaseMember, Host, StackOutputs
from harness.core.waiting import WaitTimeoutError, wait_for
from infra.database import PATRONI_REST_USER

Member = dict[str, Any]
"""One entry of Patroni's ``GET /cluster`` ``members``: name, role, state, timeline, lag."""


class PatroniError(RuntimeError):
    """No member answered, or the one asked refused the call; the message says which and why."""


class ClusterNotWholeError(RuntimeError):
    """The cluster lacks a leader or a streaming standby; the message is every member's state."""


def streaming(members: list[Member], synchronous: bool = False) -> list[Member]:
    """Standbys replicating from the leader (Patroni 3.0 reports them ``running``, later ones ``streaming``)."""
    roles = ("sync_standby",) if synchronous else ("replica", "sync_standby")
    return [m for m in members if m.get("role") in roles and m.get("state") in ("streaming", "running")]


def describe_members(members: list[Member]) -> str:
    """One line an SRE reads: each member's role, state, timeline and replication lag."""
    def one(m: Member) -> str:
        lag = m.get("lag")
        return (f"{m.get('name')} {m.get('role')}/{m.get('state')} tl {m.get('timeline', '?')}"
                + ("" if lag in (None, "") else f" lag {lag}"))
    return "; ".join(one(m) for m in members) or "no member registered"


DCS_SEEN_SLACK_S = 2.0
"""Allowed on top of loop_wait + retry_timeout between a member's DCS contacts: a real host's clock may be off by
as much as the host checks allow (2 s)."""


class Patroni:
    """The cluster's REST API: read from the first member that answers, written through the one named."""

    def __init__(self, outputs: StackOutputs) -> None:
        self.outputs = outputs

    def _url(self, member: DatabaseMember, path: str) -> str:
        return f"https://{member.patroni}{path}"

    def _get(self, member: DatabaseMember, path: str, timeout_s: float) -> tuple[int, Any]:
        """A read: over TLS, the member's certificate verified against the stack's CA; no credentials needed."""
        return request_json("GET", self._url(member, path), timeout_s=timeout_s, ca=self.outputs.ca_cert_path)

    def _unsafe(self, method: str, member: DatabaseMember, path: str, body: Any, timeout_s: float
                ) -> tuple[int, Any]:
        """A change: Patroni refuses every unsafe method without the stack's REST credentials."""
        token = base64.b64encode(f"{PATRONI_REST_USER}:{self.outputs.secret('patroni_rest_password')}".encode())
        return request_json(method, self._url(member, path), body, {"Authorization": f"Basic {token.decode()}"},
                            timeout_s, self.outputs.ca_cert_path)

    def _get_any(self, path: str, timeout_s: float) -> Any:
        last = "no member"
        for member in self.outputs.database.members:
            status, body = self._get(member, path, timeout_s)
            if status == 200:
                return body
            last = f"{member.name}: {'no answer' if status == UNREACHABLE else f'HTTP {status}'}"
        raise PatroniError(f"no Patroni member answers GET {path}: {last}")

    def members(self, timeout_s: float = 3) -> list[Member]:
        """Patroni's view of the cluster's members, from the first member that answers."""
        return list(self._get_any("/cluster", timeout_s).get("members", []))

    def leader(self, timeout_s: float = 3) -> str:
        """The member Patroni calls leader."""
        members = self.members(timeout_s)
        leaders = [m["name"] for m in members if m.get("role") == "leader"]
        if not leaders:
            raise PatroniError(f"no Patroni member is leader: {describe_members(members)}")
        return str(leaders[0])

    def streaming_standbys(self, timeout_s: float = 3, synchronous: bool = False) -> list[str]:
        """Members that replicate from the leader now; with ``synchronous``, only those Patroni may promote.

        In synchronous mode Patroni promotes only the registered sync standby (no committed
        transaction lost), so a drill that kills the primary needs one before it starts.
        """
        return [m["name"] for m in streaming(self.members(timeout_s), synchronous)]

    def whole(self, timeout_s: float = 3) -> list[str]:
        """The streaming standbys when every non-leader member streams and one is synchronous; raises otherwise."""
        members = self.members(timeout_s)
        standbys = streaming(members)
        whole = (any(m.get("role") == "leader" and m.get("state") == "running" for m in members)
                 and len(standbys) >= len(self.outputs.database.members) - 1
                 and any(m.get("role") == "sync_standby" for m in standbys))
        if not whole:
            raise ClusterNotWholeError(describe_members(members))
        return [m["name"] for m in standbys]

    def out_of_touch_with_dcs(self, timeout_s: float = 3) -> list[str]:
        """Members still living on failsafe mode (``failsafe_mode_is_active`` in ``GET /patroni``: a leader kept
        only because every member answered it, or a replica that heard so within ttl), that see no leader key
        (``cluster_unlocked``), whose last read of the DCS (``dcs_last_seen``) is older than one HA loop and its
        retries, or that do not answer. After an etcd outage ``/cluster`` shows a leader and a streaming standby
        well before Patroni holds its lock in etcd again, and a drill started then meets a cluster that may not
        survive the next fault (seen twice: the leader demoting itself, or the lagging standby promoted, under
        the REJECT partition of the drill that followed a DCS drill). ``dcs_last_seen`` alone does not tell: the
        etcd3 client's watch cache answers reads while lease keepalives fail."""
        config = self.config(timeout_s=timeout_s)
        within = float(config.get("loop_wait", 10)) + float(config.get("retry_timeout", 10)) + DCS_SEEN_SLACK_S
        now, behind = time.time(), []
        for member in self.outputs.database.members:
            status, body = self._get(member, "/patroni", timeout_s)
            body = body if isinstance(body, dict) else {}
            seen = body.get("dcs_last_seen")
            if (status == UNREACHABLE or not seen or now - float(seen) > within
                    or body.get("failsafe_mode_is_active") or body.get("cluster_unlocked")):
                behind.append(member.name)
        return behind

    def not_healthy(self) -> list[str]:
        """Members that neither lead nor stream synchronously (all of them when no member answers)."""
        try:
            members = self.members()
        except PatroniError:
            members = []
        healthy = {m["name"] for m in streaming(members, synchronous=True)}
        healthy |= {m["name"] for m in members if m.get("role") == "leader" and m.get("state") == "running"}
        return [m.name for m in self.outputs.database.members if m.name not in healthy]

    def config(self, member: str | None = None, timeout_s: float = 5) -> dict[str, Any]:
        """The dynamic configuration as ``member`` (or the first that answers) sees it: a view up to loop_wait old."""
        if member is None:
            return dict(self._get_any("/config", timeout_s))
        status, body = self._get(self.outputs.member(member), "/config", timeout_s)
        if status != 200:
            raise PatroniError(f"GET /config on {member}: {'no answer' if status == UNREACHABLE else status}")
        return dict(body)

    def patch_config(self, member: str, changes: dict[str, Any], timeout_s: float = 5) -> None:
        """PATCH the dynamic configuration through ``member`` (idempotent: the same values again change nothing)."""
        status, _ = self._unsafe("PATCH", self.outputs.member(member), "/config", changes, timeout_s)
        if status != 200:
            raise PatroniError(f"PATCH /config {sorted(changes)} on {member}: "
                               f"{'no answer' if status == UNREACHABLE else f'HTTP {status}'}")

    def resume_if_paused(self) -> bool:
        """Take the cluster out of maintenance mode if a drill left it there; whether it was paused."""
        for member in self.outputs.database.members:
            try:
                config = self.config(member.name, timeout_s=3)
            except PatroniError:
                continue
            if not config.get("pause"):
                return False
            self.patch_config(member.name, {"pause": False})
            return True
        return False


def wait_cluster_whole(outputs: StackOutputs, what: str, timeout: float = 180,
                       log_tail: Callable[[Host], str] | None = None) -> list[str]:
    """Wait for a whole cluster; on timeout the error carries each member's state and, with ``log_tail``,
    the last log lines of every member that does not stream, so a failed run says why."""
    patroni = Patroni(outputs)
    try:
        return wait_for(what, patroni.whole, timeout=timeout)
    except WaitTimeoutError as exc:
        logs = "" if log_tail is None else "".join(f"\n{log_tail(outputs.host(name))}"
                                                   for name in patroni.not_healthy())
        raise WaitTimeoutError(what, timeout, f"{exc.last}{logs}") from exc

"""The running stack as drills see it through its outputs: Patroni's view, and the service's readiness."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import docker
import docker.errors

from harness.core.outputs import StackOutputs
from harness.core.waiting import WaitTimeoutError, wait_for


def patroni_cluster(outputs: StackOutputs, timeout_s: float = 3) -> dict:
    """Patroni's view of the cluster, asked of the first member whose REST API answers."""
    last: Exception | None = None
    for member in outputs["database"]["members"]:
        try:
            with urllib.request.urlopen(f"http://{member['patroni']}/cluster", timeout=timeout_s) as response:
                return json.loads(response.read())
        except (OSError, ValueError) as exc:
            last = exc
    raise RuntimeError(f"no Patroni member answers: {last}")


def leader(outputs: StackOutputs, timeout_s: float = 3) -> str:
    """The member Patroni calls leader."""
    members = patroni_cluster(outputs, timeout_s).get("members", [])
    leaders = [m["name"] for m in members if m.get("role") == "leader"]
    if not leaders:
        raise RuntimeError(f"no Patroni member is leader: {[(m.get('name'), m.get('role')) for m in members]}")
    return leaders[0]


def streaming_standbys(outputs: StackOutputs, timeout_s: float = 3, synchronous: bool = False) -> list[str]:
    """Members that replicate from the leader right now; with ``synchronous``, only those Patroni may promote.

    In synchronous mode Patroni promotes only the registered sync standby (no committed
    transaction lost), so a drill that kills the primary needs one before it starts.
    """
    members = patroni_cluster(outputs, timeout_s).get("members", [])
    return [m["name"] for m in _streaming(members, synchronous)]


def _streaming(members: list[dict], synchronous: bool = False) -> list[dict]:
    """Standbys replicating from the leader (Patroni 3.0 reports them ``running``, later ones ``streaming``)."""
    roles = ("sync_standby",) if synchronous else ("replica", "sync_standby")
    return [m for m in members if m.get("role") in roles and m.get("state") in ("streaming", "running")]


class ClusterNotWholeError(RuntimeError):
    """The cluster lacks a leader or a streaming standby; the message is every member's state."""


def describe_members(members: list[dict]) -> str:
    """One line an SRE reads: each member's role, state, timeline and replication lag."""
    def one(m: dict) -> str:
        lag = m.get("lag")
        return (f"{m.get('name')} {m.get('role')}/{m.get('state')} tl {m.get('timeline', '?')}"
                + ("" if lag in (None, "") else f" lag {lag}"))
    return "; ".join(one(m) for m in members) or "no member registered"


def whole_cluster(outputs: StackOutputs, timeout_s: float = 3) -> list[str]:
    """The streaming standbys when every non-leader member streams and one is synchronous; raises otherwise."""
    members = patroni_cluster(outputs, timeout_s).get("members", [])
    streaming = _streaming(members)
    whole = (any(m.get("role") == "leader" and m.get("state") == "running" for m in members)
             and len(streaming) >= len(outputs["database"]["members"]) - 1
             and any(m.get("role") == "sync_standby" for m in streaming))
    if not whole:
        raise ClusterNotWholeError(describe_members(members))
    return [m["name"] for m in streaming]


def wait_cluster_whole(outputs: StackOutputs, what: str, timeout: float = 180,
                       client: docker.DockerClient | None = None) -> list[str]:
    """Wait for a whole cluster; on timeout the error carries each member's state and, with ``client``,
    the last Patroni log lines of every member that does not stream, so a failed run says why."""
    try:
        return wait_for(what, lambda: whole_cluster(outputs), timeout=timeout)
    except WaitTimeoutError as exc:
        raise WaitTimeoutError(what, timeout, f"{exc.last}{_logs_of_lagging(outputs, client)}") from exc


def _logs_of_lagging(outputs: StackOutputs, client: docker.DockerClient | None) -> str:
    if client is None:
        return ""
    try:
        members = patroni_cluster(outputs).get("members", [])
    except RuntimeError:
        members = []
    healthy = {m["name"] for m in _streaming(members, synchronous=True)}
    healthy |= {m["name"] for m in members if m.get("role") == "leader" and m.get("state") == "running"}
    return "".join(f"\n{database_log_tail(client, host)}" for host in outputs["hosts"]
                   if "database" in host["roles"] and host["name"] not in healthy)


def database_log_tail(client: docker.DockerClient, host: dict, lines: int = 25) -> str:
    """A database host's last Patroni/PostgreSQL log lines, Patroni's idle heartbeats left out."""
    try:
        recent = client.api.logs(host["container"], tail=600).decode(errors="replace").splitlines()
    except docker.errors.APIError as exc:
        return f"--- no logs of {host['name']}: {exc} ---"
    telling = [line for line in recent if "no action." not in line][-lines:]
    return "\n".join([f"--- last {len(telling)} log lines of {host['name']} (idle heartbeats left out) ---",
                      *telling])


def ready(url: str, timeout_s: float = 2) -> bool:
    """Whether the service answers ready (writable primary reached) through this uplink URL."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"uplink URL {url!r} is not http(s)")
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=timeout_s) as response:  # noqa: S310 - scheme checked
            return response.status == 200
    except OSError:
        return False


def post_json(url: str, body: dict, headers: dict[str, str], timeout_s: float = 2) -> tuple[int, dict]:
    """One JSON POST; (0, {}) when the connection fails, so a probe records it instead of raising."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"URL {url!r} is not http(s)")
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - scheme checked
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (OSError, ValueError):
        return 0, {}


def get_json(url: str, headers: dict[str, str], timeout_s: float = 5) -> tuple[int, dict]:
    """One JSON GET; (0, {}) when the connection fails."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"URL {url!r} is not http(s)")
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (OSError, ValueError):
        return 0, {}

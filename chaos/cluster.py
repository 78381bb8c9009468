"""The running stack as drills see it through its outputs: Patroni's view, and the service's readiness."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from harness.outputs import StackOutputs


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
    roles = ("sync_standby",) if synchronous else ("replica", "sync_standby")
    return [m["name"] for m in members if m.get("role") in roles and m.get("state") in ("streaming", "running")]


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

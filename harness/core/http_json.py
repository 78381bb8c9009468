"""JSON over HTTP for the service's API and health checks: one request, bounded by a timeout, never raising
for an unreachable server, so a probe records a refused connection instead of crashing a drill."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

UNREACHABLE = 0
"""The status reported when no HTTP answer came (refused, reset, timed out, not JSON)."""


def _checked(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"URL {url!r} is not http(s)")
    return url


def request_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
                 timeout_s: float = 5) -> tuple[int, Any]:
    """One request; (status, parsed body), (status, {}) for an HTTP error, (UNREACHABLE, {}) for no answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(_checked(url), data=data, method=method,  # noqa: S310 - scheme checked
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - scheme checked
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (OSError, ValueError):
        return UNREACHABLE, {}


def post_json(url: str, body: dict, headers: dict[str, str], timeout_s: float = 2) -> tuple[int, dict]:
    """One JSON POST; (0, {}) when the connection fails."""
    return request_json("POST", url, body, headers, timeout_s)


def get_json(url: str, headers: dict[str, str], timeout_s: float = 5) -> tuple[int, dict]:
    """One JSON GET; (0, {}) when the connection fails."""
    return request_json("GET", url, None, headers, timeout_s)


def ready(url: str, timeout_s: float = 2) -> bool:
    """Whether the service answers ready (writable primary reached) through this uplink URL."""
    try:
        with urllib.request.urlopen(f"{_checked(url)}/health/ready", timeout=timeout_s) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False

"""What a response says about the line it came over: kept free of Locust and gevent, which patch the
process they are imported into, so the analysis and its tests can use it anywhere."""

from __future__ import annotations

from typing import Any


def cut_short(response: Any) -> bool:
    """A body shorter than its Content-Length (or none at all): a connection cut while the answer was on the way
    (seen when an uplink dropped mid-response: status 200, no body). Retried with the same idempotency key."""
    received = len(response.content or b"")
    declared = response.headers.get("Content-Length") if response.headers else None
    return received == 0 or (declared is not None and declared.isdigit() and received < int(declared))

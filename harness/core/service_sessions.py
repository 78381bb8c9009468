"""Sessions of the reference service, minted by the operator's tooling with the stack's session key.

The service (``ihh_service.sessions``) takes who acts only from a signed session token. Patients and
doctors get theirs from registration; the harness, which holds the stack's secrets, mints the
hospital administrator's session (to register doctors) and short ones for a drill's own requests.
The format must match the service's: ``<actor>.<expiry>.<base64url HMAC-SHA256(key, actor|expiry)>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.core.outputs import StackOutputs

ACTOR = re.compile(r"^(patient|doctor|admin):[1-9][0-9]{0,17}$")
ADMIN = "admin:1"
SESSION_KEY_SECRET = "service_session_key"  # noqa: S105 - the name of the secret output, not a secret


def mint(key: str, actor: str, ttl_s: int, now: float | None = None) -> str:
    """A session token for ``actor`` valid ``ttl_s`` seconds from ``now``."""
    if not ACTOR.match(actor):
        raise ValueError(f"actor must be patient:<id>, doctor:<id> or admin:<id>, got {actor!r}")
    if ttl_s < 1:
        raise ValueError(f"ttl_s must be at least 1, got {ttl_s}")
    expiry = int(now if now is not None else time.time()) + ttl_s
    mac = hmac.new(key.encode(), f"{actor}|{expiry}".encode(), hashlib.sha256).digest()
    return f"{actor}.{expiry}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def session_for(outputs: StackOutputs, actor: str, ttl_s: int = 3600) -> str:
    """A token the stack's app servers accept for ``actor``."""
    return mint(outputs.secret(SESSION_KEY_SECRET), actor, ttl_s)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def token_file(token: str) -> Iterator[Path]:
    """The token in a 0600 file for a child process (never its command line or environment), removed after."""
    fd, name = tempfile.mkstemp(prefix="ihh-session-", suffix=".token")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)

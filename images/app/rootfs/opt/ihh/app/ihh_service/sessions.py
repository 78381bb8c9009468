"""Session tokens: who acts is what a token signed with the stack's session key says, never a header's claim.

A token is ``<actor>.<expiry>.<mac>``: the actor (``patient:12``), its Unix expiry and an HMAC-SHA256 over
both with the session key every app server shares, so any app server (after a failover, the other one)
accepts a session another issued. The operator's tooling mints tokens with the same key
(``harness.core.service_sessions``); nothing about a session is stored, and no token is ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from ihh_service.validation import ACTOR, InputError

SESSION_TTL_S = 12 * 3600
"""A session lasts a working day; the patient's or doctor's app registers or signs in again after that."""
BEARER = "Bearer "


def _mac(key: str, actor: str, expiry: int) -> str:
    digest = hmac.new(key.encode(), f"{actor}|{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(key: str, actor: str, now: float | None = None, ttl_s: int = SESSION_TTL_S) -> str:
    """A token for ``actor`` valid for ``ttl_s`` from ``now``."""
    if not ACTOR.match(actor):
        raise ValueError(f"actor must be patient:<id>, doctor:<id> or admin:<id>, got {actor!r}")
    expiry = int(now if now is not None else time.time()) + ttl_s
    return f"{actor}.{expiry}.{_mac(key, actor, expiry)}"


def verify(key: str, header: str | None, now: float | None = None) -> tuple[str, int, int]:
    """``(kind, id, expiry)`` of the session an ``Authorization`` header carries; 401 naming the rule otherwise."""
    if not header:
        raise InputError("Authorization", "a session is required: Bearer <token from registration>", status=401)
    if not header.startswith(BEARER):
        raise InputError("Authorization", "must be 'Bearer <session token>'", status=401)
    parts = header[len(BEARER):].strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise InputError("Authorization", "is not a session token of this service", status=401)
    actor, expiry_text, mac = parts
    match = ACTOR.match(actor)
    expiry = int(expiry_text)
    if match is None or not hmac.compare_digest(mac, _mac(key, actor, expiry)):
        raise InputError("Authorization", "session token signature does not verify", status=401)
    if expiry <= (now if now is not None else time.time()):
        raise InputError("Authorization", "session has expired; register or sign in again", status=401)
    return match.group(1), int(match.group(2)), expiry

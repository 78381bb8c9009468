"""Short-lived TURN credentials (the TURN REST API scheme coturn's use-auth-secret checks)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

CREDENTIAL_TTL_S = 600


def ice_servers(nodes: list[dict[str, str]], secret: str, actor: str, now: float | None = None) -> dict[str, Any]:
    """One ICE server per A/V node, all sharing one credential that expires in ``CREDENTIAL_TTL_S``."""
    expiry = int(now if now is not None else time.time()) + CREDENTIAL_TTL_S
    username = f"{expiry}:{actor}"
    credential = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    servers = [
        {"urls": [f"turn:{n['udp']}?transport=udp", f"turn:{n['tcp']}?transport=tcp"], "node": n["name"],
         "username": username, "credential": credential}
        for n in nodes
    ]
    return {"ice_servers": servers, "ttl": CREDENTIAL_TTL_S}

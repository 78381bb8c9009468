"""A plain HTTPS JSON client for tests that drive the reference service through an uplink.

Certificates are verified against the test stack's CA, as a patient's app would verify them. ``token``
sends a session a test got from registration; ``actor`` a session the operator's tooling mints for that
actor with the stack's key (what the service accepts is the same signed form either way).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from harness.core.http_json import tls_context
from harness.core.outputs import StackOutputs
from harness.core.service_sessions import bearer, session_for
from harness.core.state import stack_dir

STACK = os.environ.get("IHH_TEST_STACK", "local")
STACK_CA = stack_dir(STACK) / "ca.crt"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(base: str, method: str, path: str, body: Any = None, actor: str | None = None,
         key: str | None = None, write: bool | None = None, token: str | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    headers = {"Content-Type": "application/json", **(headers or {})}
    if actor:
        token = session_for(StackOutputs.load(STACK), actor, ttl_s=600)
    if token:
        headers.update(bearer(token))
    if key or (write if write is not None else method == "POST"):
        headers["Idempotency-Key"] = key or uuid.uuid4().hex
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls_context(STACK_CA)) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return Answer(response.status, headers, json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read() or b"null"))

"""JSON over HTTP(S) for the service's API and health checks: one request, bounded by a timeout, never raising
for an unreachable server, so a probe records a refused connection instead of crashing a drill.

HTTPS is verified against the CA a caller names (the stack's, ``outputs.ca_cert_path``): a drill that
reaches the service through an uplink checks the certificate a patient's app would check.
"""

from __future__ import annotations

import functools
import http.client
import json
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from harness.core.outputs import StackOutputs
from harness.core.service_sessions import bearer

UNREACHABLE = 0
"""The status reported when no HTTP answer came (refused, reset, timed out, not JSON)."""


def _checked(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"URL {url!r} is not http(s)")
    return url


@functools.lru_cache(maxsize=8)
def _trusting(ca_pem: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_context(ca: Path | None) -> ssl.SSLContext | None:
    """A TLS 1.2+ context that trusts ``ca`` (host names checked); None leaves the system's trust store.

    Cached by the CA's content, not its path: `harness down` and `up` write a new CA to the same file,
    and a context still trusting the old one fails every handshake (TLSV1_ALERT_DECRYPT_ERROR).
    """
    return None if ca is None else _trusting(Path(ca).read_text())


def request_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
                 timeout_s: float = 5, ca: Path | None = None) -> tuple[int, Any]:
    """One request; (status, parsed body), (status, {}) for an HTTP error, (UNREACHABLE, {}) for no answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(_checked(url), data=data, method=method,  # noqa: S310 - scheme checked
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=tls_context(ca)) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (OSError, ValueError):
        return UNREACHABLE, {}


def post_json(url: str, body: dict, headers: dict[str, str], timeout_s: float = 2, ca: Path | None = None
              ) -> tuple[int, dict]:
    """One JSON POST; (0, {}) when the connection fails."""
    return request_json("POST", url, body, headers, timeout_s, ca)


def post_through_uplinks(outputs: StackOutputs, path: str, body: dict, headers: dict[str, str], timeout_s: float
                         ) -> tuple[str | None, dict, list[str]]:
    """One write tried on each uplink in turn, as a patient's app retries on the other line (the caller's
    Idempotency-Key in ``headers`` makes the retry the same write): the uplink that took it (201 created, 200
    done) and the answer, or None and what each uplink said."""
    said = []
    for uplink in outputs.uplinks:
        status, answer = post_json(f"{uplink.url}{path}", body, headers, timeout_s=timeout_s, ca=outputs.ca_cert_path)
        if status in (200, 201):
            return uplink.name, answer, said
        said.append(f"{uplink.name}: {status or 'no answer'}")
    return None, {}, said


class UplinkWriteError(RuntimeError):
    """A drill's write that no uplink took; the message says what each answered."""


def write_through_uplinks(outputs: StackOutputs, path: str, body: dict, session: str | None = None,
                          timeout_s: float = 10) -> dict:
    """A write a drill makes as an app does: its own Idempotency-Key, the given session as bearer, each uplink in
    turn; the service's answer, or UplinkWriteError."""
    headers = {"Idempotency-Key": uuid.uuid4().hex, **(bearer(session) if session else {})}
    uplink, answer, said = post_through_uplinks(outputs, path, body, headers, timeout_s)
    if uplink is None:
        raise UplinkWriteError(f"POST {path} failed on every uplink ({', '.join(said)})")
    return answer


def get_json(url: str, headers: dict[str, str], timeout_s: float = 5, ca: Path | None = None) -> tuple[int, dict]:
    """One JSON GET; (0, {}) when the connection fails."""
    return request_json("GET", url, None, headers, timeout_s, ca)


def ready(url: str, timeout_s: float = 2, ca: Path | None = None) -> bool:
    """Whether the service answers ready (writable primary reached) through this uplink URL."""
    try:
        return _ready_once(url, timeout_s, ca)
    except OSError:
        return False


def ready_as_a_client(url: str, timeout_s: float = 2, ca: Path | None = None) -> tuple[bool, bool]:
    """(ready, retried): ``ready``, asked again once when the connection closed before any answer, as an HTTP
    client retries an idempotent request (RFC 9110, 9.2.2): what a patient's app sees when the app server its
    request was on dies. A refusal, a timeout or an HTTP error is not retried."""
    try:
        return _ready_once(url, timeout_s, ca), False
    except OSError as exc:
        if not _closed_without_answer(exc):
            return False, False
    return ready(url, timeout_s, ca), True


def _ready_once(url: str, timeout_s: float, ca: Path | None) -> bool:
    with urllib.request.urlopen(f"{_checked(url)}/health/ready", timeout=timeout_s,  # noqa: S310
                                context=tls_context(ca)) as response:
        return response.status == 200


CLOSED_WITHOUT_ANSWER = (http.client.RemoteDisconnected, ConnectionResetError, ssl.SSLEOFError)


def _closed_without_answer(exc: OSError) -> bool:
    """The server side closed or reset the connection instead of answering (urllib wraps some of these)."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, CLOSED_WITHOUT_ANSWER)


def ready_on_every_uplink(outputs: StackOutputs, timeout_s: float = 2) -> bool:
    """The service answers ready through each of the stack's uplinks, over HTTPS verified with the stack's CA."""
    return all(ready(u.url, timeout_s, outputs.ca_cert_path) for u in outputs.uplinks)

"""Assertions several suites make, each failing with '<host>: <rule>: <what was found>'."""

from __future__ import annotations

import json
import shlex
from typing import Any

from harness.core.outputs import Host


def assert_owner_only(host: Any, target: Host, path: str, owner: str, rule: str) -> None:
    """``path`` exists, belongs to ``owner`` and no one else may read or write it."""
    secret = host.file(path)
    assert secret.exists, f"{target.name}: {rule}: {path} is missing"
    assert secret.user == owner and secret.mode & 0o077 == 0, (
        f"{target.name}: {rule}: {path} is {oct(secret.mode)} owned by {secret.user}"
    )


HTTP_PROBE = """
import json, socket, ssl, sys, urllib.error, urllib.request
out = {}
for ask in json.loads(sys.argv[1]):
    context = None
    if ask.get("ca"):
        context = ssl.create_default_context(cafile=ask["ca"])
        context.check_hostname = ask.get("check_hostname", True)
        if ask.get("cert"):
            context.load_cert_chain(*ask["cert"])
    try:
        if ask.get("tls_only"):
            host, port = ask["tls_only"]
            with socket.create_connection((host, port), 5) as raw, context.wrap_socket(raw) as tls:
                out[ask["name"]] = tls.version()
            continue
        data = b"{}" if ask.get("method", "GET") != "GET" else None
        request = urllib.request.Request(ask["url"], method=ask.get("method", "GET"), data=data,
                                         headers={"Content-Type": "application/json", **ask.get("headers", {})})
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            out[ask["name"]] = response.status
    except urllib.error.HTTPError as e:
        out[ask["name"]] = e.code
    except Exception as e:
        out[ask["name"]] = type(e).__name__
print(json.dumps(out))
"""


def http_answers(host: Any, asks: list[dict[str, Any]]) -> dict[str, Any]:
    """Each request's answer, made from ``host`` itself: an HTTP status, a TLS version, or the error's name.

    A request is ``{"name", "url", "method", "headers", "ca", "cert": [crt, key], "check_hostname"}``, or
    ``{"name", "tls_only": [host, port], "ca", ...}`` for a bare handshake.
    """
    argument = shlex.quote(json.dumps(asks))
    return json.loads(host.check_output(f"python3 -c {shlex.quote(HTTP_PROBE)} {argument}"))

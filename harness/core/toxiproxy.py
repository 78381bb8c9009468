"""A small client of Toxiproxy's HTTP API: proxies switched off and toxics added, always undone.

Everything the harness adds is named with ``TOXIC_PREFIX`` so ``remove_leftovers``
can tell its own toxics from the contracted shaping (``contract-*``) and remove them
even after a killed run.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TOXIC_PREFIX = "ihh-drill-"
TIMEOUT_S = 5.0


class ToxiproxyError(RuntimeError):
    """The Toxiproxy API refused a call; the message carries its answer."""


class Toxiproxy:
    """The API at ``base_url`` (the stack output ``toxiproxy_api``)."""

    def __init__(self, base_url: str) -> None:
        if not base_url.startswith("http"):
            raise ValueError(f"toxiproxy_api must be an http URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,  # noqa: S310 - http(s) only
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise ToxiproxyError(f"{method} {path}: {exc.code} {exc.read().decode()[:200]}") from exc
        return json.loads(text) if text.strip() else None

    def proxies(self) -> dict[str, Any]:
        return self._call("GET", "/proxies")

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        self._call("POST", f"/proxies/{proxy}", {"enabled": enabled})

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/proxies/{proxy}/toxics")

    def add_toxic(self, proxy: str, name: str, kind: str, attributes: dict[str, Any], stream: str = "downstream",
                  toxicity: float = 1.0) -> None:
        if not name.startswith(TOXIC_PREFIX):
            name = TOXIC_PREFIX + name
        self._call("POST", f"/proxies/{proxy}/toxics", {"name": name, "type": kind, "stream": stream,
                                                        "toxicity": toxicity, "attributes": attributes})

    def put_toxic(self, proxy: str, toxic: dict[str, Any]) -> None:
        """Add a toxic exactly as described (name kept): for restoring the contracted shaping."""
        self._call("POST", f"/proxies/{proxy}/toxics",
                   {k: toxic[k] for k in ("name", "type", "stream", "toxicity", "attributes")})

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def remove_leftovers(self, contracted: set[str]) -> list[str]:
        """Re-enable the contracted proxies and delete every toxic the harness added; what was undone."""
        undone = []
        for name, proxy in self.proxies().items():
            if name in contracted and not proxy["enabled"]:
                self.set_enabled(name, True)
                undone.append(f"proxy {name} re-enabled")
            for toxic in proxy.get("toxics", []):
                if toxic["name"].startswith(TOXIC_PREFIX):
                    self.remove_toxic(name, toxic["name"])
                    undone.append(f"toxic {toxic['name']} removed from {name}")
        return undone


@contextmanager
def proxy_disabled(api: Toxiproxy, proxy: str) -> Iterator[None]:
    """The uplink cut: the proxy refuses and drops connections until the block ends, whatever happens."""
    api.set_enabled(proxy, False)
    try:
        yield
    finally:
        api.set_enabled(proxy, True)


@contextmanager
def toxic(api: Toxiproxy, proxy: str, name: str, kind: str, attributes: dict[str, Any],
          stream: str = "downstream", toxicity: float = 1.0) -> Iterator[None]:
    api.add_toxic(proxy, name, kind, attributes, stream, toxicity)
    try:
        yield
    finally:
        api.remove_toxic(proxy, TOXIC_PREFIX + name.removeprefix(TOXIC_PREFIX))


CONTRACT_PREFIX = "contract-"


@contextmanager
def shaping_removed(api: Toxiproxy) -> Iterator[None]:
    """The contracted bandwidth toxics lifted for a comparison, and put back exactly as they were."""
    saved = [(name, t) for name, proxy in api.proxies().items() for t in proxy.get("toxics", [])
             if t["name"].startswith(CONTRACT_PREFIX)]
    try:
        for name, t in saved:
            api.remove_toxic(name, t["name"])
        yield
    finally:
        present = {(name, t["name"]) for name, proxy in api.proxies().items() for t in proxy.get("toxics", [])}
        for name, t in saved:
            if (name, t["name"]) not in present:
                api.put_toxic(name, t)

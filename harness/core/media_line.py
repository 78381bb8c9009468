"""A client of the local media line: the UDP impairer in front of each TURN node (``ihh-udp-impair``).

Toxiproxy shapes the TCP uplinks; this kernel has no netem, so the media path's delay, jitter, loss,
duplication and rate cap come from a userspace impairer on the wan host. Its API wants the stack's
``media_line_token``; every impairment the harness sets is taken back in ``finally``, and
``clear_all`` (``--cleanup``) resets whatever a killed run left.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TIMEOUT_S = 5.0
IMPAIRMENTS = ("delay_ms", "jitter_ms", "loss", "duplicate", "rate_kbit")


class MediaLineError(RuntimeError):
    """The media line's API refused a call or did not answer; the message carries what it said."""


class MediaLine:
    """The API at ``base_url`` (the stack output ``media_line_api``)."""

    def __init__(self, base_url: str, token: str) -> None:
        if not base_url.startswith("http"):
            raise ValueError(f"media_line_api must be an http URL, got {base_url!r}")
        self.base_url, self._token = base_url.rstrip("/"), token

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,  # noqa: S310 - http(s)
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {self._token}"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise MediaLineError(f"{method} {path}: {exc.code} {exc.read().decode()[:200]}") from exc
        except OSError as exc:
            raise MediaLineError(f"{method} {path}: the media line did not answer: {exc}") from exc

    def answers(self) -> bool:
        """Whether the API answers now (the wan host may be starting)."""
        try:
            self.links()
        except MediaLineError:
            return False
        return True

    def links(self) -> dict[str, Any]:
        """Every link (one per TURN node): listen, upstream, impairment in force, counters."""
        return self._call("GET", "/links")

    def impair(self, link: str, values: dict[str, float]) -> None:
        unknown = sorted(set(values) - set(IMPAIRMENTS))
        if unknown:
            raise ValueError(f"{unknown[0]}: not an impairment of the media line (known: {', '.join(IMPAIRMENTS)})")
        self._call("PUT", f"/links/{link}/impairment", values)

    def clear(self, link: str) -> None:
        self._call("DELETE", f"/links/{link}/impairment")

    def clear_all(self) -> list[str]:
        """Reset every impaired link; what was reset."""
        undone = []
        for name, link in self.links().items():
            if link.get("impairment"):
                self.clear(name)
                undone.append(f"media line {name}: impairment {link['impairment']} removed")
        return undone


@contextmanager
def impaired(line: MediaLine, link: str, values: dict[str, float]) -> Iterator[None]:
    """The link impaired for the length of the block, clean again afterwards whatever ends it."""
    line.impair(link, values)
    try:
        yield
    finally:
        line.clear(link)

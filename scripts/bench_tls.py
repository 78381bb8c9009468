"""Benchmark the cost of TLS at the edge: latency of a request on a fresh TLS connection and on a kept one.

Prints figures; asserts nothing. Needs the local stack up (``harness up``). Every request goes to
an uplink's published loopback port, through the provider line's shaping and the ingress, with the
certificate verified against the stack's CA; the loop is bounded by ``--requests``.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import time
import urllib.parse

from harness.core.http_json import tls_context
from harness.core.outputs import StackOutputs


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def fresh_connection_ms(url: str, ca: object, requests: int) -> tuple[list[float], list[float]]:
    """Per request: a new TCP + TLS handshake, then GET /health/live; (handshake ms, whole request ms)."""
    parts = urllib.parse.urlsplit(url)
    handshakes, totals = [], []
    for _ in range(requests):
        started = time.perf_counter()
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=5, context=ca)
        connection.connect()
        handshakes.append((time.perf_counter() - started) * 1000)
        connection.request("GET", "/health/live")
        connection.getresponse().read()
        totals.append((time.perf_counter() - started) * 1000)
        connection.close()
    return handshakes, totals


def kept_connection_ms(url: str, ca: object, requests: int) -> list[float]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=5, context=ca)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("GET", "/health/live")
        connection.getresponse().read()
        times.append((time.perf_counter() - started) * 1000)
    connection.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--requests", type=int, default=300, help="requests per measurement (default 300)")
    args = parser.parse_args()
    outputs = StackOutputs.load(args.stack)
    ca = tls_context(outputs.ca_cert_path)
    for uplink in outputs.uplinks:
        handshakes, fresh = fresh_connection_ms(uplink.url, ca, args.requests)
        kept = kept_connection_ms(uplink.url, ca, args.requests)
        print(f"{uplink.name}: {args.requests} requests each, GET /health/live over HTTPS (TLS 1.2+, verified)")
        for label, values in (("TCP+TLS handshake", handshakes), ("request, new connection", fresh),
                              ("request, kept connection", kept)):
            print(f"  {label:<25} p50 {_percentile(values, 50):6.2f} ms  p95 {_percentile(values, 95):6.2f} ms")


if __name__ == "__main__":
    main()

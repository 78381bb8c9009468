"""Benchmark the cost of TLS: at the edge, side by side with the same requests without it, and on the control plane.

Prints figures; asserts nothing. Needs the local stack up (``harness up``). Three parts, one run:

1. Per uplink, from this machine: a request on a fresh TLS connection and on a kept one (through the
   provider line's shaping and the ingress, the certificate verified against the stack's CA).
2. The edge hop with and without TLS, interleaved request by request so drift hits both alike: on the
   first ingress host (over SSH), the same request mix (``GET /health/ready``, which asks the primary,
   and ``POST /v1/patients``, a committed write with its audit row) sent (a) over HTTPS through the
   host's HAProxy and (b) as plain HTTP straight to an app server. (a) also carries HAProxy's own hop,
   so its excess over (b) is an upper bound of what TLS costs there.
3. The control plane as the drills use it: a Patroni REST read over TLS (new connection, verified),
   beside Patroni's ``loop_wait``, the step in which failover drill timings move.

Every loop is bounded by ``--requests``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shlex
import statistics
import time
import urllib.parse

from harness.core.http_json import tls_context
from harness.core.outputs import StackOutputs
from harness.core.patroni import Patroni
from harness.core.ssh import connect, run
from infra.app_tier import SERVICE_PORT
from loadtests.identities import mobile, resident_id

HOP_PROBE = r"""
import http.client, json, ssl, sys, time
ask = json.loads(sys.argv[1])
tls = ssl.create_default_context(cadata=ask["ca_pem"])
tls.minimum_version = ssl.TLSVersion.TLSv1_2
def connection(kind):
    if kind == "tls":
        return http.client.HTTPSConnection("127.0.0.1", 443, timeout=10, context=tls)
    return http.client.HTTPConnection(ask["app"], ask["app_port"], timeout=10)
kept = {kind: connection(kind) for kind in ("plain", "tls")}
out = {f"{kind} {reuse} {what}": [] for kind in ("plain", "tls") for reuse in ("kept", "fresh")
       for what in ("read", "write")}
for i, person in enumerate(ask["people"]):
    order = ("plain", "tls") if i % 2 == 0 else ("tls", "plain")
    for kind in order:
        for reuse in ("kept", "fresh"):
            for what in ("read", "write"):
                conn = kept[kind] if reuse == "kept" else connection(kind)
                body = json.dumps({"name": person["name"], "mobile": person["mobile"],
                                   "id_number": person["ids"][kind + reuse]}) if what == "write" else None
                started = time.perf_counter()
                if what == "write":
                    conn.request("POST", "/v1/patients", body, {"Content-Type": "application/json",
                                                                "Idempotency-Key": f"bench-{kind}-{reuse}-{i}-"
                                                                + ask["run"]})
                else:
                    conn.request("GET", "/health/ready")
                response = conn.getresponse()
                response.read()
                out[f"{kind} {reuse} {what}"].append((time.perf_counter() - started) * 1000)
                if response.status not in (200, 201):
                    sys.exit(f"{kind} {reuse} {what}: HTTP {response.status}: {response.reason}")
                if reuse == "fresh":
                    conn.close()
print(json.dumps(out))
"""


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


def edge_hop_ms(outputs: StackOutputs, requests: int) -> dict[str, list[float]]:
    """Part 2: on the first ingress host, the same requests with TLS (via HAProxy) and without (to an app server)."""
    ingress = outputs.uplinks[0].ingress_host
    rng = random.Random()
    people = [{"name": "TLS基准 bench", "mobile": mobile(rng),
               "ids": {f"{k}{r}": resident_id(rng) for k in ("plain", "tls") for r in ("kept", "fresh")}}
              for _ in range(requests)]
    app = outputs.hosts(role="app")[0].name
    ask = {"ca_pem": outputs.ca_cert_path.read_text(), "app": f"{app}.app", "app_port": SERVICE_PORT, "people": people,
           "run": f"{time.time():.0f}"}
    client = connect(outputs, ingress)
    try:
        result = run(client, ingress, f"python3 -c {shlex.quote(HOP_PROBE)} {shlex.quote(json.dumps(ask))}",
                     timeout_s=60 + requests, check=False)
    finally:
        client.close()
    if result.exit_code != 0:  # the command holds the synthetic identities: name the failure, not the command
        raise SystemExit(f"edge hop probe on {ingress} failed: {result.stderr.strip()[-300:]}")
    return json.loads(result.stdout)


def patroni_read_ms(outputs: StackOutputs, requests: int) -> list[float]:
    """Part 3: a Patroni REST read as the drills make it (new TLS connection, certificate verified)."""
    patroni, times = Patroni(outputs), []
    for _ in range(requests):
        started = time.perf_counter()
        patroni.members(timeout_s=5)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _line(label: str, values: list[float]) -> str:
    return f"  {label:<34} p50 {_percentile(values, 50):7.2f} ms  p95 {_percentile(values, 95):7.2f} ms"


def print_edge_hop(outputs: StackOutputs, requests: int) -> None:
    hop = edge_hop_ms(outputs, requests)
    print(f"edge hop on {outputs.uplinks[0].ingress_host}, {requests} interleaved rounds: with TLS (HAProxy, "
          "TLS 1.2+) and without (plain HTTP to an app server)")
    for reuse in ("kept", "fresh"):
        for what, label in (("read", "GET /health/ready"), ("write", "POST /v1/patients")):
            plain, tls = hop[f"plain {reuse} {what}"], hop[f"tls {reuse} {what}"]
            p95_plain, p95_tls = _percentile(plain, 95), _percentile(tls, 95)
            print(_line(f"{label}, {reuse}, plain", plain))
            print(_line(f"{label}, {reuse}, TLS", tls)
                  + f"   p95 {p95_tls - p95_plain:+.2f} ms ({(p95_tls / p95_plain - 1) * 100:+.1f} %)")


def print_control_plane(outputs: StackOutputs, requests: int) -> None:
    reads = patroni_read_ms(outputs, requests)
    loop_wait_s = 2
    try:
        loop_wait_s = int(Patroni(outputs).config(timeout_s=5).get("loop_wait", loop_wait_s))
    except Exception as exc:  # noqa: BLE001 - the figure names the default it fell back to
        print(f"  (Patroni's loop_wait not read: {exc}; using {loop_wait_s} s)")
    print(f"control plane: Patroni REST GET /cluster, TLS + verified, new connection each ({requests} reads)")
    print(_line("read", reads) + f"   p95 is {_percentile(reads, 95) / (loop_wait_s * 10):.2f} % of "
          f"loop_wait ({loop_wait_s} s)")


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
            print(_line(label, values))
    print_edge_hop(outputs, args.requests)
    print_control_plane(outputs, args.requests)


if __name__ == "__main__":
    main()

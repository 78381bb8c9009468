"""The programs the host checks run on a host with python3 -c: here so the drill wrapper can list them by hash.

Each prints one JSON document (or two words) on standard output; see the check that runs it.
"""

from __future__ import annotations

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

TCP_PROBE = """
import json, socket, sys
out = {}
for name, port in json.loads(sys.argv[1]):
    try:
        with socket.create_connection((name, port), timeout=3):
            out[f"{name}:{port}"] = "open"
    except socket.gaierror:
        out[f"{name}:{port}"] = "unresolved"
    except ConnectionRefusedError:
        out[f"{name}:{port}"] = "refused"
    except OSError as e:
        out[f"{name}:{port}"] = type(e).__name__
print(json.dumps(out))
"""

TLS_HANDSHAKE = """
import json, socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
try:
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", 443), 5)) as s:
        print(json.dumps({"version": s.version()}))
except OSError as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
"""

PLAIN_HTTP = """
import http.client, json
try:
    c = http.client.HTTPConnection("127.0.0.1", 80, timeout=5)
    c.request("GET", "/v1/health")
    r = c.getresponse()
    print(json.dumps({"status": r.status, "location": r.getheader("Location") or ""}))
except OSError as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
"""

WATCHDOG_OF_PATRONI = (
    "import yaml; w = yaml.safe_load(open('/etc/patroni/patroni.yml')).get('watchdog') or {}; "
    "print(w.get('mode', 'automatic'), w.get('device', '/dev/watchdog'))"
)

PROBES = (HTTP_PROBE, TCP_PROBE, TLS_HANDSHAKE, PLAIN_HTTP, WATCHDOG_OF_PATRONI)

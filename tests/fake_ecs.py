"""A local double of three ECS API calls (StopInstances, StartInstances, DescribeInstances), since no cloud is
reachable here. It checks each request's ACS3-HMAC-SHA256 signature as the cloud does, answers in the API's
shapes and error codes, records every call, and powers "instances" that are the local stack's containers:
a forced stop is ``docker kill``, a start ``docker start``, so a power-loss drill through it is a real one.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import urllib.parse
import uuid
from typing import Any

import docker


def _encode(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


def signature(secret: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              signed: list[str], payload_hash: str) -> str:
    """The ACS3-HMAC-SHA256 signature of a request (Alibaba Cloud's V3 request signing)."""
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical = "\n".join([method, path, canonical_query, canonical_headers, ";".join(signed), payload_hash])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


class FakeEcs:
    """The fake API on a loopback port; ``instances`` maps instance IDs to the containers that are them."""

    def __init__(self, instances: dict[str, str], key_id: str, secret: str) -> None:
        self.instances, self.key_id, self.secret = instances, key_id, secret
        self.calls: list[dict[str, Any]] = []
        self._client: docker.DockerClient | None = None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def client(self) -> docker.DockerClient:
        """The engine, reached on first use only: the unit tests' double powers no container and needs none."""
        if self._client is None:
            self._client = docker.from_env()
        return self._client

    def __enter__(self) -> FakeEcs:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def status(self, instance: str) -> str:
        state = self.client.containers.get(self.instances[instance]).status
        return {"running": "Running", "restarting": "Starting"}.get(state, "Stopped")

    def answer(self, action: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if action == "DescribeInstances":
            wanted = json.loads(query.get("InstanceIds", "[]"))
            found = [{"InstanceId": i, "Status": self.status(i), "RegionId": query.get("RegionId")}
                     for i in wanted if i in self.instances]
            return 200, {"Instances": {"Instance": found}, "TotalCount": len(found)}
        ids = [v for k, v in sorted(query.items()) if k.startswith("InstanceId.")]
        unknown = [i for i in ids if i not in self.instances]
        if unknown:
            return 404, {"Code": "InvalidInstanceId.NotFound", "Message": f"The specified instance does not exist: "
                                                                          f"{', '.join(unknown)}"}
        needed, verb = {"StopInstances": ("Running", "kill"), "StartInstances": ("Stopped", "start")}[action]
        wrong = [i for i in ids if self.status(i) != needed]
        if wrong:
            return 403, {"Code": "IncorrectInstanceStatus",
                         "Message": f"The current status of the resource does not support this operation: {wrong}"}
        if action == "StopInstances" and query.get("ForceStop", "").lower() != "true":
            verb = "stop"  # a graceful stop: what a power-loss drill must not do (the test asserts ForceStop)
        for instance in ids:
            getattr(self.client.api, verb)(self.instances[instance])
        current = "Stopping" if action == "StopInstances" else "Starting"
        return 200, {"InstanceResponses": {"InstanceResponse": [
            {"InstanceId": i, "Code": "200", "Message": "success", "PreviousStatus": needed,
             "CurrentStatus": current} for i in ids]}}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # the test's output is the drill's, not the fake's
                pass

            def do_POST(self) -> None:  # http.server calls it by this name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                query.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
                action = self.headers.get("x-acs-action", "")
                status, answer = fake.verify(self, url.path, dict(urllib.parse.parse_qsl(url.query)), body)
                if status == 200:
                    status, answer = fake.answer(action, query)
                fake.calls.append({"action": action, "query": query, "status": status, "code": answer.get("Code")})
                out = json.dumps({"RequestId": str(uuid.uuid4()), **answer}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler

    def verify(self, request: http.server.BaseHTTPRequestHandler, path: str, query: dict[str, str],
               body: bytes) -> tuple[int, dict[str, Any]]:
        """The cloud's own first check: a known key, and a signature over the request that matches."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("ACS3-HMAC-SHA256 "):
            return 400, {"Code": "MissingAuthorization", "Message": "no ACS3-HMAC-SHA256 Authorization header"}
        parts = dict(p.split("=", 1) for p in auth.removeprefix("ACS3-HMAC-SHA256 ").split(","))
        if parts.get("Credential") != self.key_id:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
        signed = parts.get("SignedHeaders", "").split(";")
        headers = {k.lower(): v for k, v in request.headers.items()}
        if hashlib.sha256(body).hexdigest() != headers.get("x-acs-content-sha256"):
            return 400, {"Code": "IncompleteSignature", "Message": "the payload hash does not match the body"}
        expected = signature(self.secret, request.command, path, query, headers, signed,
                             headers["x-acs-content-sha256"])
        if not hmac.compare_digest(expected, parts.get("Signature", "")):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "the request signature does not match"}
        return 200, {}

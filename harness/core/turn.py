"""A minimal TURN client (RFC 5766 Allocate over UDP) with TURN REST API credentials.

It proves an A/V node really relays: the Allocate succeeds only when the node
authenticates the short-lived credential minted from the shared secret, exactly as
a browser's ICE agent would with credentials from the service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field

MAGIC_COOKIE = 0x2112A442
ALLOCATE_REQUEST = 0x0003
ALLOCATE_SUCCESS = 0x0103
ALLOCATE_ERROR = 0x0113
REFRESH_REQUEST = 0x0004
CREATE_PERMISSION_REQUEST = 0x0008
CREATE_PERMISSION_SUCCESS = 0x0108
CREATE_PERMISSION_ERROR = 0x0118
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_LIFETIME = 0x000D
ATTR_XOR_PEER_ADDRESS = 0x0012
ATTR_REALM = 0x0014
ATTR_NONCE = 0x0015
ATTR_XOR_RELAYED_ADDRESS = 0x0016
ATTR_REQUESTED_TRANSPORT = 0x0019
ATTR_FINGERPRINT = 0x8028
UDP = 17


class TurnError(RuntimeError):
    """The TURN server refused or did not answer; carries the server's error code when it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Allocation:
    """A relayed transport address the server granted, and how long the exchange took."""

    relayed_host: str
    relayed_port: int
    lifetime_s: int
    seconds: float
    permissions: dict[str, bool | int] = field(default_factory=dict)


def rest_credentials(secret: str, user: str, ttl_s: int = 600, now: float | None = None) -> tuple[str, str]:
    """TURN REST API credential: ``expiry:user`` and base64 HMAC-SHA1 of it under the shared secret."""
    username = f"{int((now or time.time()) + ttl_s)}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def _attr(kind: int, value: bytes) -> bytes:
    padding = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * padding


def _message(kind: int, transaction: bytes, attrs: list[bytes], key: bytes | None) -> bytes:
    body = b"".join(attrs)
    if key is not None:
        header = struct.pack("!HHI", kind, len(body) + 24, MAGIC_COOKIE) + transaction
        body += _attr(ATTR_MESSAGE_INTEGRITY, hmac.new(key, header + body, hashlib.sha1).digest())
    header = struct.pack("!HHI", kind, len(body) + 8, MAGIC_COOKIE) + transaction
    crc = (zlib.crc32(header + body) ^ 0x5354554E) & 0xFFFFFFFF
    return header + body + _attr(ATTR_FINGERPRINT, struct.pack("!I", crc))


def _parse(data: bytes, transaction: bytes) -> tuple[int, dict[int, bytes]]:
    if len(data) < 20:
        raise TurnError(f"short STUN message ({len(data)} bytes)")
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC_COOKIE or data[8:20] != transaction:
        raise TurnError("answer does not belong to this transaction")
    attrs: dict[int, bytes] = {}
    offset = 20
    while offset + 4 <= 20 + length:
        attr_kind, attr_len = struct.unpack("!HH", data[offset:offset + 4])
        attrs.setdefault(attr_kind, data[offset + 4:offset + 4 + attr_len])
        offset += 4 + attr_len + (4 - attr_len % 4) % 4
    return kind, attrs


def _error_code(attrs: dict[int, bytes]) -> tuple[int, str]:
    raw = attrs.get(ATTR_ERROR_CODE, b"\0\0\0\0")
    return raw[2] * 100 + raw[3], raw[4:].decode(errors="replace")


def _xor_encode(host: str, port: int) -> bytes:
    """XOR-PEER-ADDRESS value for an IPv4 peer."""
    address = struct.unpack("!I", socket.inet_aton(host))[0] ^ MAGIC_COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC_COOKIE >> 16), address)


def _xor_address(raw: bytes) -> tuple[str, int]:
    port = struct.unpack("!H", raw[2:4])[0] ^ (MAGIC_COOKIE >> 16)
    address = struct.unpack("!I", raw[4:8])[0] ^ MAGIC_COOKIE
    return socket.inet_ntoa(struct.pack("!I", address)), port


class TurnClient:
    """One UDP socket to one TURN server; each request retransmits until its deadline."""

    def __init__(self, host: str, port: int, timeout_s: float = 3.0) -> None:
        self.address = (host, port)
        self.timeout_s = timeout_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> TurnClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exchange(self, kind: int, attrs: list[bytes], key: bytes | None) -> tuple[int, dict[int, bytes]]:
        transaction = os.urandom(12)
        message = _message(kind, transaction, attrs, key)
        deadline = time.monotonic() + self.timeout_s
        wait = 0.25
        while time.monotonic() < deadline:
            self.sock.sendto(message, self.address)
            self.sock.settimeout(min(wait, max(0.01, deadline - time.monotonic())))
            try:
                data, _ = self.sock.recvfrom(2048)
                return _parse(data, transaction)
            except TimeoutError:
                wait *= 2  # RFC 5389 retransmission back-off
        raise TurnError(f"no answer from TURN server {self.address[0]}:{self.address[1]} in {self.timeout_s:.1f} s")

    def allocate(self, username: str, password: str, peers: tuple[str, ...] = ()) -> Allocation:
        """Allocate a UDP relay: first the unauthenticated try for realm and nonce, then the signed one.

        With ``peers``, also ask permission to relay to each; the answers land in ``Allocation.permissions``
        (peer -> True when granted, or the refusal's error code).
        """
        started = time.monotonic()
        transport = _attr(ATTR_REQUESTED_TRANSPORT, bytes([UDP, 0, 0, 0]))
        kind, attrs = self._exchange(ALLOCATE_REQUEST, [transport], None)
        if kind != ALLOCATE_ERROR or _error_code(attrs)[0] != 401:
            raise TurnError(f"expected a 401 challenge, got message type {kind:#06x}")
        realm, nonce = attrs[ATTR_REALM], attrs[ATTR_NONCE]
        key = hashlib.md5(f"{username}:{realm.decode()}:{password}".encode()).digest()  # noqa: S324 - RFC 5389
        signed = [transport, _attr(ATTR_USERNAME, username.encode()), _attr(ATTR_REALM, realm),
                  _attr(ATTR_NONCE, nonce)]
        kind, attrs = self._exchange(ALLOCATE_REQUEST, signed, key)
        if kind == ALLOCATE_ERROR:
            code, reason = _error_code(attrs)
            raise TurnError(f"allocation refused: {code} {reason}", code)
        if kind != ALLOCATE_SUCCESS or ATTR_XOR_RELAYED_ADDRESS not in attrs:
            raise TurnError(f"unexpected answer to Allocate: message type {kind:#06x}")
        host, port = _xor_address(attrs[ATTR_XOR_RELAYED_ADDRESS])
        lifetime = struct.unpack("!I", attrs.get(ATTR_LIFETIME, b"\0\0\0\0"))[0]
        credentials = [_attr(ATTR_USERNAME, username.encode()), _attr(ATTR_REALM, realm), _attr(ATTR_NONCE, nonce)]
        permissions = {peer: self._permission(peer, credentials, key) for peer in peers}
        self._release(username, realm, nonce, key)
        return Allocation(host, port, lifetime, time.monotonic() - started, permissions)

    def _permission(self, peer: str, credentials: list[bytes], key: bytes) -> bool | int:
        kind, attrs = self._exchange(
            CREATE_PERMISSION_REQUEST, [_attr(ATTR_XOR_PEER_ADDRESS, _xor_encode(peer, 9)), *credentials], key
        )
        if kind == CREATE_PERMISSION_SUCCESS:
            return True
        if kind == CREATE_PERMISSION_ERROR:
            return _error_code(attrs)[0]
        raise TurnError(f"unexpected answer to CreatePermission: message type {kind:#06x}")

    def _release(self, username: str, realm: bytes, nonce: bytes, key: bytes) -> None:
        """Refresh with lifetime 0 frees the relay at once instead of holding it for its lifetime."""
        attrs = [_attr(ATTR_LIFETIME, struct.pack("!I", 0)), _attr(ATTR_USERNAME, username.encode()),
                 _attr(ATTR_REALM, realm), _attr(ATTR_NONCE, nonce)]
        self._exchange(REFRESH_REQUEST, attrs, key)


def allocate(
    endpoint: str, secret: str, user: str = "ihh-check", timeout_s: float = 3.0, peers: tuple[str, ...] = ()
) -> Allocation:
    """Allocate on ``host:port`` with a fresh REST credential, optionally asking to relay to ``peers``."""
    host, _, port = endpoint.rpartition(":")
    username, password = rest_credentials(secret, user)
    with TurnClient(host, int(port), timeout_s) as client:
        return client.allocate(username, password, peers)

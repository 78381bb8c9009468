"""A minimal TURN client (RFC 5766 over UDP) with TURN REST API credentials.

It proves an A/V node really relays: the Allocate succeeds only when the node
authenticates the short-lived credential minted from the shared secret, exactly as
a browser's ICE agent would with credentials from the service. ``open_relay`` keeps
an allocation for a call: the peer bound to a channel, media as ChannelData.
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
CHANNEL_BIND_REQUEST = 0x0009
CHANNEL_BIND_SUCCESS = 0x0109
CHANNEL_BIND_ERROR = 0x0119
FIRST_CHANNEL = 0x4000
"""RFC 5766 §11: channel numbers 0x4000-0x7FFF; ChannelData starts with the number, so its first bits are 01."""
ATTR_USERNAME = 0x0006
ATTR_CHANNEL_NUMBER = 0x000C
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
            answer = self._answer_to(transaction, min(time.monotonic() + wait, deadline))
            if answer is not None:
                return answer
            wait *= 2  # RFC 5389 retransmission back-off
        raise TurnError(f"no answer from TURN server {self.address[0]}:{self.address[1]} in {self.timeout_s:.1f} s")

    def _answer_to(self, transaction: bytes, until: float) -> tuple[int, dict[int, bytes]] | None:
        """The answer to ``transaction`` if it comes before ``until``; other datagrams (a peer's media that
        arrives while a request waits, a late answer to an earlier try) are passed over."""
        while (left := until - time.monotonic()) > 0:
            self.sock.settimeout(max(0.005, left))
            try:
                data, _ = self.sock.recvfrom(2048)
            except TimeoutError:
                return None
            if len(data) >= 20 and data[8:20] == transaction:
                return _parse(data, transaction)
        return None

    def _authenticate(self, username: str, password: str) -> _Session:
        """Allocate a UDP relay: first the unauthenticated try for realm and nonce, then the signed one."""
        transport = _attr(ATTR_REQUESTED_TRANSPORT, bytes([UDP, 0, 0, 0]))
        kind, attrs = self._exchange(ALLOCATE_REQUEST, [transport], None)
        if kind != ALLOCATE_ERROR or _error_code(attrs)[0] != 401:
            raise TurnError(f"expected a 401 challenge, got message type {kind:#06x}")
        realm, nonce = attrs[ATTR_REALM], attrs[ATTR_NONCE]
        key = hashlib.md5(f"{username}:{realm.decode()}:{password}".encode()).digest()  # noqa: S324 - RFC 5389
        credentials = [_attr(ATTR_USERNAME, username.encode()), _attr(ATTR_REALM, realm), _attr(ATTR_NONCE, nonce)]
        kind, attrs = self._exchange(ALLOCATE_REQUEST, [transport, *credentials], key)
        if kind == ALLOCATE_ERROR:
            code, reason = _error_code(attrs)
            raise TurnError(f"allocation refused: {code} {reason}", code)
        if kind != ALLOCATE_SUCCESS or ATTR_XOR_RELAYED_ADDRESS not in attrs:
            raise TurnError(f"unexpected answer to Allocate: message type {kind:#06x}")
        lifetime = struct.unpack("!I", attrs.get(ATTR_LIFETIME, b"\0\0\0\0"))[0]
        return _Session(_xor_address(attrs[ATTR_XOR_RELAYED_ADDRESS]), lifetime, credentials, key)

    def open_relay(self, username: str, password: str) -> Relay:
        """An allocation kept for a call (released by ``Relay.close``)."""
        return Relay(self, self._authenticate(username, password))

    def allocate(self, username: str, password: str, peers: tuple[str, ...] = ()) -> Allocation:
        """Allocate a UDP relay: first the unauthenticated try for realm and nonce, then the signed one.

        With ``peers``, also ask permission to relay to each; the answers land in ``Allocation.permissions``
        (peer -> True when granted, or the refusal's error code).
        """
        started = time.monotonic()
        session = self._authenticate(username, password)
        permissions = {peer: self._permission(peer, session.credentials, session.key) for peer in peers}
        self._release(session)
        return Allocation(*session.relayed, session.lifetime_s, time.monotonic() - started, permissions)

    def _permission(self, peer: str, credentials: list[bytes], key: bytes) -> bool | int:
        kind, attrs = self._exchange(
            CREATE_PERMISSION_REQUEST, [_attr(ATTR_XOR_PEER_ADDRESS, _xor_encode(peer, 9)), *credentials], key
        )
        if kind == CREATE_PERMISSION_SUCCESS:
            return True
        if kind == CREATE_PERMISSION_ERROR:
            return _error_code(attrs)[0]
        raise TurnError(f"unexpected answer to CreatePermission: message type {kind:#06x}")

    def _release(self, session: _Session) -> None:
        """Refresh with lifetime 0 frees the relay at once instead of holding it for its lifetime."""
        self._exchange(REFRESH_REQUEST, [_attr(ATTR_LIFETIME, struct.pack("!I", 0)), *session.credentials],
                       session.key)


@dataclass(frozen=True)
class _Session:
    """What an allocation's later requests need: its relayed address, and the credentials that sign them."""

    relayed: tuple[str, int]
    lifetime_s: int
    credentials: list[bytes]
    key: bytes


class Relay:
    """One allocation held for a call: its peer bound to a channel, media sent and received as ChannelData.

    The allocation (600 s) and the channel binding (10 min) outlast a drill's call; a longer call would need
    Refresh and ChannelBind again every few minutes, which this does not do.
    """

    def __init__(self, client: TurnClient, session: _Session) -> None:
        self.client, self.session = client, session
        self.channel = FIRST_CHANNEL
        self._header = struct.pack("!H", self.channel)

    @property
    def relayed(self) -> tuple[str, int]:
        return self.session.relayed

    @property
    def sock(self) -> socket.socket:
        return self.client.sock

    def bind(self, peer: tuple[str, int]) -> None:
        """ChannelBind to ``peer`` (also its permission); the node refuses peers it may not relay to (403)."""
        value = _attr(ATTR_CHANNEL_NUMBER, struct.pack("!HH", self.channel, 0))
        kind, attrs = self.client._exchange(
            CHANNEL_BIND_REQUEST, [value, _attr(ATTR_XOR_PEER_ADDRESS, _xor_encode(*peer)), *self.session.credentials],
            self.session.key)
        if kind == CHANNEL_BIND_ERROR:
            code, reason = _error_code(attrs)
            raise TurnError(f"channel bind to {peer[0]}:{peer[1]} refused: {code} {reason}", code)
        if kind != CHANNEL_BIND_SUCCESS:
            raise TurnError(f"unexpected answer to ChannelBind: message type {kind:#06x}")
        self.sock.setblocking(False)

    def send(self, payload: bytes) -> None:
        """One datagram to the bound peer; a full socket buffer or a refused port drops it, as UDP would."""
        try:
            self.sock.sendto(self._header + struct.pack("!H", len(payload)) + payload, self.client.address)
        except (BlockingIOError, ConnectionRefusedError):
            pass

    def received(self) -> list[bytes]:
        """The peer's payloads waiting on the socket now (other messages, such as late answers, are dropped)."""
        payloads = []
        while True:
            try:
                data = self.sock.recv(2048)
            except (BlockingIOError, ConnectionRefusedError):
                return payloads
            if len(data) >= 4 and data[:2] == self._header:
                length = struct.unpack("!H", data[2:4])[0]
                payloads.append(data[4:4 + length])

    def close(self, release: bool = True) -> None:
        """Free the allocation (skipped for a node that is gone: nothing would answer) and the socket."""
        try:
            if release:
                self.sock.setblocking(True)
                self.client._release(self.session)
        except (TurnError, OSError):
            pass  # the allocation times out on the node by itself
        finally:
            self.client.close()


def allocate(
    endpoint: str, secret: str, user: str = "ihh-check", timeout_s: float = 3.0, peers: tuple[str, ...] = ()
) -> Allocation:
    """Allocate on ``host:port`` with a fresh REST credential, optionally asking to relay to ``peers``."""
    host, _, port = endpoint.rpartition(":")
    username, password = rest_credentials(secret, user)
    with TurnClient(host, int(port), timeout_s) as client:
        return client.allocate(username, password, peers)

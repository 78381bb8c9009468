"""TURN client wire format against RFC 5769's test vectors and its own round trip."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

from harness.core.turn import (
    ALLOCATE_REQUEST,
    ATTR_FINGERPRINT,
    ATTR_MESSAGE_INTEGRITY,
    _message,
    _parse,
    _xor_address,
    rest_credentials,
)


def test_xor_mapped_address_of_rfc5769_sample_response() -> None:
    # RFC 5769 2.2: 192.0.2.1 port 32853, XOR-encoded.
    assert _xor_address(bytes.fromhex("0001a147e112a643")) == ("192.0.2.1", 32853)


def test_rest_credentials_follow_the_turn_rest_api_draft() -> None:
    username, password = rest_credentials("north", "alice", ttl_s=600, now=1_000_000)
    assert username == "1000600:alice"
    expected = base64.b64encode(hmac.new(b"north", b"1000600:alice", hashlib.sha1).digest()).decode()
    assert password == expected


def test_signed_message_carries_valid_integrity_and_fingerprint() -> None:
    transaction = b"\x01" * 12
    key = hashlib.md5(b"user:realm:pass").digest()  # noqa: S324 - RFC 5389 key derivation
    message = _message(ALLOCATE_REQUEST, transaction, [], key)
    kind, attrs = _parse(message, transaction)
    assert kind == ALLOCATE_REQUEST
    integrity_at = message.index(struct.pack("!HH", ATTR_MESSAGE_INTEGRITY, 20))
    header = message[:2] + struct.pack("!H", integrity_at - 20 + 24) + message[4:20]
    assert attrs[ATTR_MESSAGE_INTEGRITY] == hmac.new(key, header + message[20:integrity_at], hashlib.sha1).digest()
    import zlib

    crc = (zlib.crc32(message[:-8]) ^ 0x5354554E) & 0xFFFFFFFF
    assert attrs[ATTR_FINGERPRINT] == struct.pack("!I", crc)

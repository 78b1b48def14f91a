"""The STUN Binding messages ``korefw probe`` sends and reads (RFC 5389), without sockets.

A probe sends one Binding request (the 20-byte header alone: no attributes, no credentials)
and accepts only a Binding success response with the magic cookie and the request's own
transaction id, whose XOR-MAPPED-ADDRESS (or, from an old server, MAPPED-ADDRESS) it reads.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from dataclasses import dataclass

MAGIC_COOKIE = 0x2112A442
HEADER_SIZE = 20
TRANSACTION_ID_SIZE = 12
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
MAPPED_ADDRESS = 0x0001
ERROR_CODE = 0x0009
XOR_MAPPED_ADDRESS = 0x0020
SOFTWARE = 0x8022
FINGERPRINT = 0x8028
#: FINGERPRINT is the CRC-32 of the message before it, XORed with this (RFC 5389 15.5).
FINGERPRINT_XOR = 0x5354554E
#: The longest STUN message korefw reads; a Binding response is far shorter.
MAX_MESSAGE_SIZE = 2048

_HEADER = struct.Struct("!HHI12s")
_FAMILY_SIZES = {0x01: 4, 0x02: 16}


class StunError(ValueError):
    """A reply that is not the STUN Binding success response the probe asked for."""


@dataclass(frozen=True)
class StunMessage:
    """A decoded STUN message: type, transaction id and attributes in wire order."""

    type: int
    transaction_id: bytes
    attributes: tuple[tuple[int, bytes], ...]

    def attribute(self, kind: int) -> bytes | None:
        """The first value of attribute ``kind``, or None."""
        return next((value for k, value in self.attributes if k == kind), None)


def binding_request(transaction_id: bytes) -> bytes:
    """A Binding request: the 20-byte header with no attributes."""
    if len(transaction_id) != TRANSACTION_ID_SIZE:
        raise ValueError("a STUN transaction id is 96 bits")
    return _HEADER.pack(BINDING_REQUEST, 0, MAGIC_COOKIE, transaction_id)


def message_size(header: bytes) -> int:
    """The whole message's size from its first 20 bytes (how a STUN reply is framed on TCP)."""
    length = _unpack_header(header)[1]
    if length > MAX_MESSAGE_SIZE - HEADER_SIZE:
        raise StunError(f"message length {length} is too long")
    return HEADER_SIZE + length


def _unpack_header(data: bytes) -> tuple[int, int, int, bytes]:
    if len(data) < HEADER_SIZE:
        raise StunError(f"{len(data)} bytes is shorter than a STUN header")
    kind, length, cookie, tid = _HEADER.unpack_from(data)
    if kind & 0xC000:
        raise StunError("not a STUN message (the first two bits are not zero)")
    if cookie != MAGIC_COOKIE:
        raise StunError(f"wrong magic cookie 0x{cookie:08x}")
    if length % 4:
        raise StunError(f"message length {length} is not a multiple of 4")
    return kind, length, cookie, tid


def decode(data: bytes) -> StunMessage:
    """Decode one whole STUN message; a FINGERPRINT, when present, must be right."""
    kind, length, _, tid = _unpack_header(data)
    if len(data) != HEADER_SIZE + length:
        raise StunError(f"message length {length} does not match the {len(data)} bytes read")
    attributes: list[tuple[int, bytes]] = []
    at = HEADER_SIZE
    while at < len(data):
        if at + 4 > len(data):
            raise StunError("truncated attribute header")
        attr, size = struct.unpack_from("!HH", data, at)
        end = at + 4 + size
        if end > len(data):
            raise StunError(f"attribute 0x{attr:04x} runs past the end of the message")
        if attr == FINGERPRINT:
            _check_fingerprint(data, at, data[at + 4 : end])
        attributes.append((attr, data[at + 4 : end]))
        at = end + (-size % 4)
    return StunMessage(kind, tid, tuple(attributes))


def _check_fingerprint(data: bytes, at: int, value: bytes) -> None:
    if len(value) != 4 or at + 8 != len(data):
        raise StunError("FINGERPRINT is not the last 4-byte attribute")
    expected = (zlib.crc32(data[:at]) ^ FINGERPRINT_XOR) & 0xFFFFFFFF
    if struct.unpack("!I", value)[0] != expected:
        raise StunError("wrong FINGERPRINT")


def mapped_address(message: StunMessage) -> tuple[str, int]:
    """The reflexive address a Binding response carries: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS."""
    value = message.attribute(XOR_MAPPED_ADDRESS)
    if value is not None:
        mask = struct.pack("!I", MAGIC_COOKIE) + message.transaction_id
        return _address(value, mask)
    value = message.attribute(MAPPED_ADDRESS)
    if value is not None:
        return _address(value, b"")
    raise StunError("the response has no XOR-MAPPED-ADDRESS")


def _address(value: bytes, mask: bytes) -> tuple[str, int]:
    if len(value) < 4 or value[1] not in _FAMILY_SIZES:
        raise StunError("malformed address attribute")
    size = _FAMILY_SIZES[value[1]]
    raw = value[4 : 4 + size]
    if len(raw) != size or len(value) != 4 + size:
        raise StunError("malformed address attribute")
    port = struct.unpack_from("!H", value, 2)[0]
    if mask:
        port ^= MAGIC_COOKIE >> 16
        raw = bytes(b ^ m for b, m in zip(raw, mask, strict=False))
    return str(ipaddress.ip_address(raw)), port


def error_text(message: StunMessage) -> str:
    """``error 401 Unauthorized`` from an error response's ERROR-CODE."""
    value = message.attribute(ERROR_CODE)
    if value is None or len(value) < 4:
        return "error response without ERROR-CODE"
    code = (value[2] & 0x07) * 100 + value[3]
    reason = value[4:].decode("utf-8", "replace").strip()
    return f"error {code} {reason}".rstrip()


def check_binding_response(data: bytes, transaction_id: bytes) -> tuple[str, int]:
    """The mapped address of the success response to our request; StunError for anything else."""
    message = decode(data)
    if message.transaction_id != transaction_id:
        raise StunError("a reply to another transaction")
    if message.type == BINDING_ERROR:
        raise StunError(error_text(message))
    if message.type != BINDING_SUCCESS:
        raise StunError(f"message type 0x{message.type:04x} is not a Binding success response")
    return mapped_address(message)

"""The STUN Binding codec (korefw/core/probe/stun.py) against RFC 5769's test vectors."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.core.probe import stun

# RFC 5769 section 2: the short-term password and the transaction id of 2.1-2.3.
PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
TID = bytes.fromhex("b7e7a701bc34d686fa87dfae")

# 2.1 Sample Request
REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e207465737420636c69656e74"
    "002400046e0001ff"
    "80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf"
)
# 2.2 Sample IPv4 Response
RESPONSE_V4 = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)
# 2.3 Sample IPv6 Response
RESPONSE_V6 = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c"
)


def _integrity_ok(message: bytes) -> bool:
    """MESSAGE-INTEGRITY (RFC 5389 15.4) of a vector: proves the bytes above are the RFC's."""
    at = message.index(bytes.fromhex("00080014"), stun.HEADER_SIZE)
    header = message[:2] + struct.pack("!H", at + 24 - stun.HEADER_SIZE) + message[4:at]
    digest = hmac.new(PASSWORD, header, hashlib.sha1).digest()
    return digest == message[at + 4 : at + 24]


@pytest.mark.parametrize("vector", [REQUEST, RESPONSE_V4, RESPONSE_V6])
def test_vectors_are_the_rfcs(vector: bytes) -> None:
    assert _integrity_ok(vector)


def test_sample_request_decodes() -> None:
    message = stun.decode(REQUEST)
    assert message.type == stun.BINDING_REQUEST
    assert message.transaction_id == TID
    assert message.attribute(stun.SOFTWARE) == b"STUN test client"
    assert message.attribute(0x0006) == b"evtj:h6vY"  # USERNAME, its padding not included
    assert [kind for kind, _ in message.attributes][-1] == stun.FINGERPRINT


@pytest.mark.parametrize(
    ("vector", "address"),
    [(RESPONSE_V4, "192.0.2.1"), (RESPONSE_V6, "2001:db8:1234:5678:11:2233:4455:6677")],
)
def test_sample_responses_give_the_mapped_address(vector: bytes, address: str) -> None:
    assert stun.check_binding_response(vector, TID) == (address, 32853)
    assert stun.message_size(vector[: stun.HEADER_SIZE]) == len(vector)


def test_binding_request_is_the_bare_header() -> None:
    request = stun.binding_request(TID)
    assert request == bytes.fromhex("000100002112a442") + TID
    assert stun.decode(request).attributes == ()
    with pytest.raises(ValueError):
        stun.binding_request(b"short")


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (RESPONSE_V4[:12], "shorter than a STUN header"),
        (_flip(RESPONSE_V4, 4), "magic cookie"),
        (bytes([0x41]) + RESPONSE_V4[1:], "first two bits"),
        (RESPONSE_V4[:-4], "does not match"),
        (_flip(RESPONSE_V4, 30), "FINGERPRINT"),  # a SOFTWARE byte: the CRC no longer fits
        (REQUEST, "0x0001 is not a Binding success response"),
    ],
    ids=["short", "cookie", "not-stun", "length", "fingerprint", "request"],
)
def test_anything_but_our_success_response_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(stun.StunError, match=why):
        stun.check_binding_response(data, TID)


def test_an_error_response_names_its_code() -> None:
    reason = b"Bad Request"
    value = struct.pack("!HBB", 0, 4, 0) + reason + b"\0"
    attr = struct.pack("!HH", stun.ERROR_CODE, len(value) - 1) + value
    data = struct.pack("!HHI", stun.BINDING_ERROR, len(attr), stun.MAGIC_COOKIE) + TID + attr
    with pytest.raises(stun.StunError, match="error 400 Bad Request"):
        stun.check_binding_response(data, TID)


def test_an_attribute_running_past_the_end_is_refused() -> None:
    attr = struct.pack("!HH", stun.XOR_MAPPED_ADDRESS, 64) + bytes(4)
    data = struct.pack("!HHI", stun.BINDING_SUCCESS, len(attr), stun.MAGIC_COOKIE) + TID + attr
    with pytest.raises(stun.StunError, match="runs past the end"):
        stun.decode(data)


def _response(tid: bytes, address: str, port: int) -> bytes:
    """A Binding success response with XOR-MAPPED-ADDRESS, encoded as RFC 5389 15.2 says."""
    ip = ipaddress.ip_address(address)
    mask = struct.pack("!I", stun.MAGIC_COOKIE) + tid
    raw = bytes(b ^ m for b, m in zip(ip.packed, mask, strict=False))
    value = struct.pack("!BBH", 0, 1 if ip.version == 4 else 2, port ^ 0x2112) + raw
    attr = struct.pack("!HH", stun.XOR_MAPPED_ADDRESS, len(value)) + value
    return struct.pack("!HHI", stun.BINDING_SUCCESS, len(attr), stun.MAGIC_COOKIE) + tid + attr


def test_a_reply_to_another_transaction_is_refused() -> None:
    other = bytes(12)
    assert stun.check_binding_response(_response(other, "192.0.2.1", 1), other)
    with pytest.raises(stun.StunError, match="another transaction"):
        stun.check_binding_response(_response(other, "192.0.2.1", 1), TID)


@settings(max_examples=60, deadline=None)
@given(
    tid=st.binary(min_size=12, max_size=12),
    address=st.ip_addresses().map(str),
    port=st.integers(0, 65535),
)
def test_xor_mapped_address_round_trips(tid: bytes, address: str, port: int) -> None:
    assert stun.check_binding_response(_response(tid, address, port), tid) == (address, port)

#!/usr/bin/env python3
"""Independent reference for the record test vectors in tests/unit/test_record.c.

Builds the NODE, SERVICE and USERNAME records of the test from the encoding
described in src/wire/record.h with Python's hashlib and the `cryptography`
package (Ed25519), without any VX6 code, and prints the hex the C code must
produce.  Run: python3 tests/tools/record_vectors.py
"""
import hashlib
import ipaddress
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

SEED = bytes(range(32))
ISSUED = 1700000000
EXPIRES = 1700003600

sk = Ed25519PrivateKey.from_private_bytes(SEED)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
node_id = hashlib.blake2b(pk, digest_size=32).digest()


def label(s):
    return bytes([len(s)]) + s.encode()


def common(rtype, seq):
    return struct.pack(">BBQQQ", 1, rtype, seq, ISSUED, EXPIRES) + pk


def signed(body):
    return body + sk.sign(b"vx6 record v1" + body)


node = common(1, 1) + node_id + bytes([2])
node += bytes([6]) + ipaddress.IPv6Address("2001:db8::1").packed + struct.pack(">HB", 4242, 3)
node += bytes([4]) + ipaddress.IPv4Address("192.0.2.1").packed + struct.pack(">HB", 4242, 1)
svc = common(2, 7) + label("alice") + label("web") + node_id + struct.pack(">IB", 0, 2)
svc += struct.pack(">HH", 80, 443)
user = common(3, 3) + label("alice")
# a relay-only service (flags: ANYPORT 1 | RELAY 2), no ports
svc_relay = common(2, 8) + label("alice") + label("web") + node_id + struct.pack(">IB", 3, 0)

print("pk       ", pk.hex())
print("node_id  ", node_id.hex())
print("node     ", signed(node).hex())
print("service  ", signed(svc).hex())
print("username ", signed(user).hex())
print("svc relay", signed(svc_relay).hex())
print("svc key  ", hashlib.blake2b(b"vx6 service" + b"alice.web", digest_size=32).hexdigest())
print("user key ", hashlib.blake2b(b"vx6 user" + b"alice", digest_size=32).hexdigest())

#!/usr/bin/env python3
"""hidden_ref.py -- independent reference (pure Python, no libsodium) for the
hidden-service test vectors in tests/unit/test_hsaddr.c and test_blind.c.

Computes, for the RFC 8032 TEST 1 seed: the ADDRESS, and for one period the
blinding factor, the blinded public key and a blinded signature.  Run it by
hand; the printed hex is what the C tests expect.
"""
import base64
import hashlib

p = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
d = -121665 * pow(121666, p - 2, p) % p
I = pow(2, (p - 1) // 4, p)


def inv(x):
    return pow(x, p - 2, p)


def xrecover(y):
    xx = (y * y - 1) * inv(d * y * y + 1)
    x = pow(xx, (p + 3) // 8, p)
    if (x * x - xx) % p:
        x = x * I % p
    if x % 2:
        x = p - x
    return x


def add(P, Q):
    (x1, y1), (x2, y2) = P, Q
    t = d * x1 * x2 * y1 * y2
    return ((x1 * y2 + x2 * y1) * inv(1 + t) % p, (y1 * y2 + x1 * x2) * inv(1 - t) % p)


def mul(s, P):
    R = (0, 1)
    while s:
        if s & 1:
            R = add(R, P)
        P = add(P, P)
        s >>= 1
    return R


def enc(P):
    x, y = P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def dec(b):
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = xrecover(y)
    if (x & 1) != sign:
        x = p - x
    return (x, y)


By = 4 * inv(5) % p
B = (xrecover(By), By)


def b2(data, n):
    return hashlib.blake2b(data, digest_size=n).digest()


def address(pk):
    ck = b2(b".vx6 checksum" + pk + b"\x01", 32)[:2]
    return base64.b32encode(pk + ck + b"\x01").decode().lower().rstrip("=")


def main():
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    hs = hashlib.sha512(seed).digest()
    a = int.from_bytes(hs[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    A = enc(mul(a, B))
    print("pk      ", A.hex())
    print("address ", address(A))
    period = 19876
    hb = b2(b"vx6 blind v1" + A + period.to_bytes(8, "big") + (86400).to_bytes(8, "big"), 64)
    h = int.from_bytes(hb, "little") % L
    hbytes = h.to_bytes(32, "little")
    print("period  ", period)
    print("h       ", hbytes.hex())
    Ab = enc(mul(h, dec(A)))
    print("blinded ", Ab.hex())
    ab = h * (a % L) % L
    assert enc(mul(ab, B)) == Ab
    prefix = b2(b"vx6 blind prefix" + hs[32:] + hbytes, 32)
    msg = b"vx6 blinded signature test"
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % L
    R = enc(mul(r, B))
    k = int.from_bytes(hashlib.sha512(R + Ab + msg).digest(), "little") % L
    S = (r + k * ab) % L
    print("sig     ", (R + S.to_bytes(32, "little")).hex())
    hb2 = b2(b"vx6 blind v1" + A + (period + 1).to_bytes(8, "big") + (86400).to_bytes(8, "big"), 64)
    h2 = int.from_bytes(hb2, "little") % L
    print("blinded+1", enc(mul(h2, dec(A))).hex())

    # descriptor: subcredential, DHT positions, outer header (test_descriptor.c)
    pb = period.to_bytes(8, "big")
    cred = b2(b"vx6 hs credential" + A, 32)
    sub = b2(b"vx6 hs subcredential" + cred + Ab + pb, 32)
    print("subcred ", sub.hex())
    for i in range(3):
        print("position", i, b2(b"vx6 hsdir" + Ab + pb + bytes([i]), 32).hex())
    now = period * 86400 + 40000
    expires = now + 3 * 3600
    rnd = b"\x42" * 32
    salt1 = hashlib.blake2b(b"salt1", digest_size=16, key=rnd).digest()
    # layer 1 of 2 intro points with one IPv6 endpoint: padded to 640 bytes
    l1len = 16 + 640 + 16
    head = bytes([1]) + Ab + pb + (7).to_bytes(8, "big") + expires.to_bytes(8, "big")
    head += l1len.to_bytes(2, "big") + salt1
    print("deschead", head[:60].hex(), "len", len(head) - 16 + l1len + 64)


if __name__ == "__main__":
    main()


def ntor_vectors():
    """RENDEZVOUS1 and the end-to-end keys of test_intro.c test_vectors,
    given the transcript hash T of its INTRODUCE (XChaCha20 is not in the
    standard library, so T is taken from the C test; everything after it is
    recomputed here).  Needs the 'cryptography' package for X25519."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives import serialization as ser

    def pub(sk):
        k = X25519PrivateKey.from_private_bytes(sk).public_key()
        return k.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)

    def dh(sk, pk):
        return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))

    def kh(key, data, n=32):
        return hashlib.blake2b(data, digest_size=n, key=key).digest()

    b = b2(b"\x5a" * 32, 32)
    B = pub(b)
    K = b"\xa1" * 32
    x = kh(b"\x01" * 32, b"vx6 intro client")
    X = pub(x)
    y = kh(b"\x02" * 32, b"vx6 rend service")
    Y = pub(y)
    T = bytes.fromhex("72a8fd444f4e2d1a2725cb82c7560f479e73f7199cc7d60490188187cae26329")
    P = b"vx6-hs-ntor-1"
    secret = dh(y, X) + dh(b, X) + K + B + X + Y + T + P
    assert dh(x, Y) + dh(x, B) == secret[:64]
    seed = kh(P + b":key_extract", secret)
    verify = kh(P + b":verify", secret)
    auth = kh(P + b":mac", verify + K + B + Y + X + b"Server")
    out = kh(seed, P + b":expand", 64)
    print("rend1   ", (b"\x22" * 20 + Y + auth).hex())
    print("c2s     ", out[:32].hex())
    print("s2c     ", out[32:].hex())


if __name__ == "__main__":
    ntor_vectors()

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


def hchacha20(key, nonce16):
    """HChaCha20 (the subkey step of XChaCha20), from its definition."""
    def rotl(v, n):
        return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF

    def qr(x, a, b, c, d):
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF
        x[d] = rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF
        x[b] = rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF
        x[d] = rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF
        x[b] = rotl(x[b] ^ x[c], 7)

    words = lambda b: [int.from_bytes(b[i:i + 4], "little") for i in range(0, len(b), 4)]
    x = words(b"expand 32-byte k") + words(key) + words(nonce16)
    for _ in range(10):
        qr(x, 0, 4, 8, 12)
        qr(x, 1, 5, 9, 13)
        qr(x, 2, 6, 10, 14)
        qr(x, 3, 7, 11, 15)
        qr(x, 0, 5, 10, 15)
        qr(x, 1, 6, 11, 12)
        qr(x, 2, 7, 8, 13)
        qr(x, 3, 4, 9, 14)
    return b"".join(v.to_bytes(4, "little") for v in x[0:4] + x[12:16])


def ntor_vectors():
    """The INTRODUCE, RENDEZVOUS1 and the end-to-end keys of test_intro.c
    test_vectors, from the fixed keys of its fixture (INTRODUCE version 2:
    the plaintext names the rendezvous point by its Ed25519 key, here the
    RFC 8032 TEST 1 key).  Needs the 'cryptography' package for X25519 and
    ChaCha20-Poly1305; XChaCha20's subkey (HChaCha20) is computed here."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives import serialization as ser

    def pub(sk):
        k = X25519PrivateKey.from_private_bytes(sk).public_key()
        return k.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)

    def dh(sk, pk):
        return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))

    def kh(key, data, n=32):
        return hashlib.blake2b(data, digest_size=n, key=key).digest()

    def xchacha_seal(key, nonce24, pt, ad):
        sub = hchacha20(key, nonce24[:16])
        return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], pt, ad)

    b = b2(b"\x5a" * 32, 32)
    B = pub(b)
    K = b"\xa1" * 32
    sub = b"\xc3" * 32
    x = kh(b"\x01" * 32, b"vx6 intro client")
    X = pub(x)
    # INTRODUCE: plaintext, padded to 160 bytes
    now = 1717286400
    rend_pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    pt = (now // 600).to_bytes(8, "big") + b"\x11" * 16 + b"\x22" * 20 + rend_pk
    pt += bytes([2])
    pt += bytes([6]) + b"\xfd" * 16 + (4242).to_bytes(2, "big") + bytes([3])
    pt += bytes([4]) + b"\x7f\0\0\x01" + (4242).to_bytes(2, "big") + bytes([1])
    pt += bytes(160 - len(pt))
    kn = b2(b"vx6 intro v1" + dh(x, B) + K + X + B + sub, 64)
    head = bytes([2]) + K + X
    msg = head + xchacha_seal(kn[:32], kn[32:56], pt, head)
    assert len(msg) == 241
    T = b2(msg, 32)
    print("introduce", msg.hex())
    print("introduce blake2b", T.hex())
    # the same with the identity point (small order) as the rendezvous key:
    # well encrypted, refused by the service as malformed
    bad = pt.replace(rend_pk, b"\x01" + bytes(31))
    print("introduce-badkey", (head + xchacha_seal(kn[:32], kn[32:56], bad, head)).hex())
    y = kh(b"\x02" * 32, b"vx6 rend service")
    Y = pub(y)
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

#!/usr/bin/env python3
"""socks5.py PROXY_PORT HOST PORT [--one-byte] [--get PATH]

A minimal SOCKS5 client for tests: prints the reply code as "rep=0xNN", then
(with --get and a success reply) sends an HTTP GET and prints the response.
--one-byte sends every byte of the handshake in its own write."""
import socket
import sys
import time


def main():
    pport, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    one = "--one-byte" in sys.argv
    path = sys.argv[sys.argv.index("--get") + 1] if "--get" in sys.argv else None
    s = socket.create_connection(("127.0.0.1", pport), timeout=15)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(b):
        if one:
            for i in range(len(b)):
                s.sendall(b[i:i + 1])
                time.sleep(0.002)
        else:
            s.sendall(b)

    def recv(n):
        out = b""
        while len(out) < n:
            c = s.recv(n - len(out))
            if not c:
                raise EOFError("closed after %d bytes" % len(out))
            out += c
        return out

    send(b"\x05\x01\x00")
    if recv(2) != b"\x05\x00":
        print("bad method reply")
        return 1
    h = host.encode()
    send(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + port.to_bytes(2, "big"))
    rep = recv(10)
    print("rep=0x%02x" % rep[1], flush=True)
    if rep[1] != 0 or path is None:
        return 0
    s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    sys.stdout.write(data.decode(errors="replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

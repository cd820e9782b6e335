#!/usr/bin/env python3
"""UDP/TCP helpers for the XDP tests (standard library only).

  vx6udp.py serve PORT            UDP echo + TCP accept-and-close on [::]:PORT
  vx6udp.py send ADDR PORT KIND N send N datagrams: dht, quic, short
  vx6udp.py ping ADDR PORT N GAP  N DHT requests GAP s apart; prints replies
  vx6udp.py tcp ADDR PORT         one TCP connect/close
"""
import select
import socket
import sys
import time

PAYLOAD = {
    # version 1, PING, 8-byte txid, 32-byte sender ID: a 42-byte DHT header
    "dht": b"\x01\x01" + b"txid0001" + b"S" * 32 + b"ping-from-vx6-test",
    "quic": b"\x41" + b"\x00" * 39,
    "short": b"\x01\x01",
}


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(port):
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind(("::", port))
    t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("::", port))
    t.listen(16)
    print("ready", flush=True)
    while True:
        r, _, _ = select.select([u, t], [], [])
        if u in r:
            data, peer = u.recvfrom(2048)
            if data.startswith(b"\x01\x01"):  # DHT PING -> PONG
                u.sendto(b"\x01\x02" + data[2:], peer)
        if t in r:
            c, _ = t.accept()
            c.close()


def send(addr, port, kind, n):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    for _ in range(n):
        s.sendto(PAYLOAD[kind], (addr, port))
        time.sleep(0.002)


def ping(addr, port, n, gap):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(0.5)
    got = 0
    for i in range(n):
        msg = PAYLOAD["dht"] + str(i).encode()
        s.sendto(msg, (addr, port))
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                break
            if data == b"\x01\x02" + msg[2:]:
                got += 1
                break
        time.sleep(gap)
    print(got)


def tcp(addr, port):
    with socket.create_connection((addr, port), timeout=3) as c:
        c.recv(1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        serve(int(args[0]))
    elif cmd == "send":
        send(args[0], int(args[1]), args[2], int(args[3]))
    elif cmd == "ping":
        ping(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif cmd == "tcp":
        tcp(args[0], int(args[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

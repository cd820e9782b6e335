#!/usr/bin/env python3
"""proxybench.py — servers and clients for tests/bench/proxy.sh.

  serve SINK_PORT FIRST_PORT     127.0.0.1: SINK reads an 8-byte length,
                                 then that many bytes, and answers the count
                                 (no half-close: microsocks closes both ways
                                 on the client's FIN); FIRST sends one byte on
                                 accept and then holds the connection
  bulk  MODE PROXY HOST PORT MiB   send MiB through a SOCKS5 proxy (MODE socks)
                                 or directly (MODE plain: PROXY ignored);
                                 prints MB/s
  lat   MODE PROXY HOST PORT N   N sequential connections, time from connect()
                                 to the first byte; prints p50 p99 in ms
  idle  MODE PROXY HOST PORT N   open N connections (through the proxy), wait
                                 for their first byte, print "open", hold them
                                 until stdin closes
"""
import asyncio
import socket
import sys
import threading
import time


def socks_connect(proxy, host, port):
    ph, _, pp = proxy.rpartition(":")
    s = socket.create_connection((ph or "127.0.0.1", int(pp)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    h = host.encode()
    # Not pipelined: some proxies (microsocks) want the method reply first.
    s.sendall(b"\x05\x01\x00")
    recv_exact(s, 2)
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + port.to_bytes(2, "big"))
    got = recv_exact(s, 10)
    if got[1] != 0:
        raise RuntimeError("SOCKS reply 0x%02x" % got[1])
    return s


def dial(mode, proxy, host, port):
    if mode == "plain":
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s
    return socks_connect(proxy, host, port)


def recv_exact(s, need):
    got = b""
    while len(got) < need:
        c = s.recv(need - len(got))
        if not c:
            raise RuntimeError("peer closed")
        got += c
    return got


def sink_conn(c):
    buf = memoryview(bytearray(4 << 20))
    try:
        want = int.from_bytes(recv_exact(c, 8), "big")
    except (OSError, RuntimeError):  # a readiness probe: connect and close
        c.close()
        return
    n = 0
    while n < want:
        k = c.recv_into(buf[: min(len(buf), want - n)])
        if not k:
            break
        n += k
    c.sendall(b"%d\n" % n)
    c.close()


def sink_main(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=sink_conn, args=(c,), daemon=True).start()


async def serve(sink_port, first_port):
    threading.Thread(target=sink_main, args=(sink_port,), daemon=True).start()

    async def first(r, w):
        w.write(b"x")
        await w.drain()
        await r.read()
        w.close()

    b = await asyncio.start_server(first, "127.0.0.1", first_port, backlog=4096)
    print("ready", flush=True)
    await b.serve_forever()


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        asyncio.run(serve(int(sys.argv[2]), int(sys.argv[3])))
        return
    mode, proxy, host, port, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    if cmd == "bulk":
        buf = memoryview(bytearray(1 << 20))
        s = dial(mode, proxy, host, port)
        t0 = time.monotonic()
        s.sendall((n << 20).to_bytes(8, "big"))
        for _ in range(n):
            s.sendall(buf)
        reply = b""
        while not reply.endswith(b"\n"):
            c = s.recv(64)
            if not c:
                break
            reply += c
        dt = time.monotonic() - t0
        if int(reply or b"0") != n << 20:
            raise RuntimeError("sink got %r bytes, sent %d" % (reply, n << 20))
        print("%.1f" % ((n << 20) / dt / 1e6))
    elif cmd == "lat":
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            s = dial(mode, proxy, host, port)
            if s.recv(1) != b"x":
                raise RuntimeError("no first byte")
            ts.append(time.perf_counter() - t0)
            s.close()
        ts.sort()
        print("%.3f %.3f" % (ts[len(ts) // 2] * 1e3, ts[int(len(ts) * 0.99)] * 1e3))
    elif cmd == "idle":
        socks = []
        for _ in range(n):
            s = dial(mode, proxy, host, port)
            if s.recv(1) != b"x":
                raise RuntimeError("no first byte")
            socks.append(s)
        print("open", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

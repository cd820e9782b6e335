#!/usr/bin/env python3
"""proxybench.py — servers and clients for tests/bench/proxy.sh.

  serve SINK_PORT FIRST_PORT     127.0.0.1: SINK counts bytes until EOF and
                                 answers the count; FIRST sends one byte on
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
    def recv(need):
        got = b""
        while len(got) < need:
            c = s.recv(need - len(got))
            if not c:
                raise RuntimeError("proxy closed")
            got += c
        return got

    # Not pipelined: some proxies (microsocks) want the method reply first.
    s.sendall(b"\x05\x01\x00")
    recv(2)
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + port.to_bytes(2, "big"))
    got = recv(10)
    if got[1] != 0:
        raise RuntimeError("SOCKS reply 0x%02x" % got[1])
    return s


def dial(mode, proxy, host, port):
    if mode == "plain":
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s
    return socks_connect(proxy, host, port)


def sink_conn(c):
    buf = bytearray(4 << 20)
    n = 0
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        n += k
    c.sendall(str(n).encode())
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
        for _ in range(n):
            s.sendall(buf)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
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

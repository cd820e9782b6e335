#!/usr/bin/env python3
"""A tiny SOCKS5 server for testing vx6-nc (tests/net/vx6nc.sh).

Usage: socks5_stub.py PORTFILE LOGFILE
Listens on 127.0.0.1 (ephemeral port, written to PORTFILE).  What it does
depends on the requested host name:
  err-XX.vx6    reply with SOCKS5 code 0xXX and close
  echo.vx6      success; read until EOF, then send back the data upper-cased
                and "|<n bytes>" and close (tests stdin EOF -> SHUT_WR)
  banner.vx6    success; send a banner and shut down its write side, then
                read until EOF and log the bytes received (tests socket EOF
                -> stdout closed while stdin still flows)
  silent.vx6    never answer the CONNECT (tests the bounded wait)
  noauth.vx6    (greeting) answer "no acceptable method" 0xFF
A client offering only username/password (0x02) gets it; the username is
logged as "USER NAME" and accepted.
Each request is logged as "ATYP HOST PORT" to LOGFILE.  Stops after 60 s.
"""
import os
import socket
import sys
import threading
import time


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def log(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def handle(c, logfile):
    try:
        ver, nm = recv_exact(c, 2)
        methods = recv_exact(c, nm)
        if ver == 5 and methods == b"\x02":
            # username/password (RFC 1929): log the username, accept any
            c.sendall(b"\x05\x02")
            _, ul = recv_exact(c, 2)
            user = recv_exact(c, ul).decode()
            pl = recv_exact(c, 1)[0]
            recv_exact(c, pl)
            log(logfile, "USER %s" % user)
            c.sendall(b"\x01\x00")
        elif ver != 5 or 0 not in methods:
            c.sendall(b"\x05\xff")
            return
        else:
            c.sendall(b"\x05\x00")
        ver, cmd, _, atyp = recv_exact(c, 4)
        if atyp != 3:
            log(logfile, "ATYP=%d" % atyp)
            c.sendall(b"\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        n = recv_exact(c, 1)[0]
        host = recv_exact(c, n).decode()
        port = int.from_bytes(recv_exact(c, 2), "big")
        log(logfile, "DOMAIN %s %d" % (host, port))
        ok = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00"
        if host.startswith("err-"):
            code = int(host[4:6], 16)
            c.sendall(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
            return
        if host == "silent.vx6":
            time.sleep(10)
            return
        if host == "echo.vx6":
            c.sendall(ok)
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            c.sendall(data.upper() + b"|%d bytes" % len(data))
            return
        if host == "banner.vx6":
            c.sendall(ok + b"SSH-2.0-stub\r\n")
            c.shutdown(socket.SHUT_WR)
            total = 0
            while True:
                d = c.recv(65536)
                if not d:
                    break
                total += len(d)
            log(logfile, "BANNER-PEER-SENT %d" % total)
            return
        c.sendall(bytes([5, 1, 0, 1, 0, 0, 0, 0, 0, 0]))
    except (EOFError, ConnectionError):
        pass
    finally:
        c.close()


def main():
    portfile, logfile = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.settimeout(1.0)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, portfile)
    end = time.time() + 60
    while time.time() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c, logfile), daemon=True).start()


if __name__ == "__main__":
    main()

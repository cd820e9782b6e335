#!/usr/bin/env python3
"""soakload.py — the soak test's load: SOCKS5 clients through a vx6d node.

  soakload.py --socks HOST:PORT --target NAME --port N --conns 10000
              --minutes M --workers W --pids PID_A,PID_B --csv FILE

1. Opens --conns long-lived tunnels (SOCKS5 CONNECT to NAME:N) and checks
   each with an echo round trip; they stay open for the whole run and a
   random sample is checked again every 10 s.
2. Meanwhile --workers tasks loop: connect, SOCKS5, send 16 KiB, read it
   back, close.
3. Every 10 s samples RSS (kB) and open fds of the daemons in --pids into
   --csv (t, phase, rss..., fds..., long_open, churn_ops, errors).
Prints a summary; exit 0 if no errors, 1 otherwise.
"""
import argparse
import asyncio
import os
import random
import sys
import time

PAYLOAD = os.urandom(16384)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Load:
    def __init__(self, a):
        self.a = a
        self.host, port = a.socks.rsplit(":", 1)
        self.sport = int(port)
        self.errors = 0
        self.err_kinds = {}
        self.churn_ops = 0
        self.long = []
        self.stop = False

    def error(self, kind):
        self.errors += 1
        self.err_kinds[kind] = self.err_kinds.get(kind, 0) + 1

    async def tunnel(self):
        r, w = await asyncio.open_connection(self.host, self.sport)
        name = self.a.target.encode()
        w.write(b"\x05\x01\x00" + b"\x05\x01\x00\x03" + bytes([len(name)]) + name +
                self.a.port.to_bytes(2, "big"))
        await w.drain()
        g = await r.readexactly(2)
        if g != b"\x05\x00":
            w.close()
            raise ConnectionError("socks greeting %r" % g)
        rep = await r.readexactly(4)
        if rep[1] != 0:
            w.close()
            raise ConnectionError("socks reply %d" % rep[1])
        atyp = rep[3]
        n = 4 if atyp == 1 else 16 if atyp == 4 else (await r.readexactly(1))[0]
        await r.readexactly(n + 2)
        return r, w

    async def echo(self, r, w, data):
        w.write(data)
        await w.drain()
        got = await r.readexactly(len(data))
        if got != data:
            raise ValueError("echo mismatch")

    async def open_long(self, i, sem):
        async with sem:
            try:
                r, w = await asyncio.wait_for(self.tunnel(), 30)
                await asyncio.wait_for(self.echo(r, w, b"hello %d\n" % i), 30)
                self.long.append((r, w))
            except Exception as e:
                self.error("long-open: %s" % type(e).__name__)

    async def check_long(self):
        while not self.stop:
            await asyncio.sleep(10)
            for r, w in random.sample(self.long, min(200, len(self.long))):
                try:
                    await asyncio.wait_for(self.echo(r, w, b"ping\n"), 30)
                except Exception as e:
                    self.error("long-check: %s" % type(e).__name__)

    async def churn(self):
        while not self.stop:
            try:
                r, w = await asyncio.wait_for(self.tunnel(), 30)
                await asyncio.wait_for(self.echo(r, w, PAYLOAD), 30)
                w.close()
                await w.wait_closed()
                self.churn_ops += 1
            except Exception as e:
                self.error("churn: %s" % type(e).__name__)
                await asyncio.sleep(0.1)

    async def sampler(self, csv, t0, phase):
        while True:
            row = [time.monotonic() - t0, phase[0]]
            for p in self.a.pids:
                row.append(rss_kb(p))
            for p in self.a.pids:
                row.append(nfds(p))
            row += [len(self.long), self.churn_ops, self.errors]
            csv.write(",".join(str(round(x, 1)) if isinstance(x, float) else str(x) for x in row) + "\n")
            csv.flush()
            print("t=%5.0fs %-6s rss_kB=%s fds=%s long=%d churn=%d errors=%d" %
                  (row[0], phase[0], row[2:2 + len(self.a.pids)],
                   row[2 + len(self.a.pids):2 + 2 * len(self.a.pids)],
                   len(self.long), self.churn_ops, self.errors), flush=True)
            await asyncio.sleep(10)

    async def run(self):
        a = self.a
        csv = open(a.csv, "w")
        csv.write("t,phase," + ",".join("rss_%d" % p for p in a.pids) + "," +
                  ",".join("fds_%d" % p for p in a.pids) + ",long,churn,errors\n")
        t0 = time.monotonic()
        phase = ["warmup"]
        samp = asyncio.ensure_future(self.sampler(csv, t0, phase))
        sem = asyncio.Semaphore(200)
        await asyncio.gather(*(self.open_long(i, sem) for i in range(a.conns)))
        print("long-lived tunnels open: %d of %d after %.1f s" %
              (len(self.long), a.conns, time.monotonic() - t0), flush=True)
        phase[0] = "steady"
        tasks = [asyncio.ensure_future(self.churn()) for _ in range(a.workers)]
        tasks.append(asyncio.ensure_future(self.check_long()))
        await asyncio.sleep(a.minutes * 60)
        self.stop = True
        await asyncio.gather(*tasks, return_exceptions=True)
        # a last check of every long-lived tunnel (200 at a time), then close them
        phase[0] = "final"
        sem = asyncio.Semaphore(200)

        async def final(r, w):
            async with sem:
                try:
                    await asyncio.wait_for(self.echo(r, w, b"bye\n"), 30)
                    return 0
                except Exception:
                    return 1
        bad = sum(await asyncio.gather(*(final(r, w) for r, w in self.long)))
        if bad:
            self.error("final-check x%d" % bad)
        for r, w in self.long:
            w.close()
        phase[0] = "closed"
        await asyncio.sleep(0.5)
        samp.cancel()
        csv.close()
        print("churn: %d connect/transfer/close cycles (%.0f/s); errors: %d %s" %
              (self.churn_ops, self.churn_ops / (a.minutes * 60), self.errors,
               self.err_kinds or ""), flush=True)
        return 0 if self.errors == 0 and len(self.long) == a.conns else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socks", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--conns", type=int, default=10000)
    p.add_argument("--workers", type=int, default=20)
    p.add_argument("--minutes", type=float, default=3)
    p.add_argument("--pids", required=True)
    p.add_argument("--csv", required=True)
    a = p.parse_args()
    a.pids = [int(x) for x in a.pids.split(",")]
    sys.exit(asyncio.run(Load(a).run()))


if __name__ == "__main__":
    main()

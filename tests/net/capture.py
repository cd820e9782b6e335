#!/usr/bin/env python3
"""capture.py IFACE OUTFILE SECONDS — write every frame seen on IFACE (AF_PACKET,
all protocols) to OUTFILE, concatenated, until SECONDS pass or SIGTERM."""
import signal, socket, sys, time

iface, out, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((iface, 0))
s.settimeout(0.2)
stop = [False]
signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))
end = time.time() + secs
n = 0
with open(out, "wb") as f:
    open(out + ".ready", "w").close()
    while not stop[0] and time.time() < end:
        try:
            data = s.recv(65535)
        except socket.timeout:
            continue
        f.write(data)
        n += 1
        f.flush()
print(f"{iface}: {n} frames", file=sys.stderr)

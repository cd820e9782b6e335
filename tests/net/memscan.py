#!/usr/bin/env python3
"""memscan.py PID STRING — count STRING in the readable memory of process PID
(every readable mapping in /proc/PID/maps, read through /proc/PID/mem).
Prints the count; exit 0.  Needs ptrace rights on PID (root).  Used by
tests/net/vx6d_relay_net.sh to show that a relay never held a plaintext
marker that crossed it, while the destination did."""
import re
import sys

CHUNK = 1 << 24
LIMIT = 1 << 30
pid, needle = int(sys.argv[1]), sys.argv[2].encode()
count = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        lo, hi, perm = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        if perm[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
            continue
        if hi - lo > LIMIT:  # sanitizer shadow and other huge reservations
            continue
        tail = b""
        for off in range(lo, hi, CHUNK):
            try:
                mem.seek(off)
                data = tail + mem.read(min(CHUNK, hi - off))
            except (OSError, ValueError, OverflowError):
                break
            count += data.count(needle)
            # keep the last bytes so a match across chunks is found once
            tail = data[-(len(needle) - 1):] if len(needle) > 1 else b""
print(count)

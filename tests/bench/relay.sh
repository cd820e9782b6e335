#!/bin/bash
# relay.sh (bench) — throughput and first-byte latency of direct, 1-, 3- and
# 5-hop paths in the same run, on loopback (7 vx6-relay-node processes, no
# diversity rule).  Not a test: prints numbers and the ratio against direct.
#   usage: tests/bench/relay.sh [MBYTES]   (default 200)
set -u
B=${VX6_BUILDDIR:-.}
NODE=$B/tests/tools/vx6-relay-node
MB=${1:-200}
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
BASE=$((20000 + RANDOM % 20000))
for i in 0 1 2 3 4 5 6; do echo "$((30 + i)) 127.0.0.1:$((BASE + i))" >> "$W/peers"; done
# a source that sends MB megabytes per connection as fast as it can
python3 - "$BASE" "$MB" <<'PY' &
import socket, sys, threading
port, mb = int(sys.argv[1]) + 100, int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
buf = b"\0" * (1 << 20)
def serve(c):
    try:
        for _ in range(mb): c.sendall(buf)
    except OSError: pass
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PIDS+=($!)
"$NODE" -n 36 -l 127.0.0.1:$((BASE + 6)) -p "$W/peers" -s src=127.0.0.1:$((BASE + 100)) 2>"$W/n6" &
PIDS+=($!)
for i in 1 2 3 4 5; do "$NODE" -n $((30 + i)) -l 127.0.0.1:$((BASE + i)) -p "$W/peers" -D 2>"$W/n$i" & PIDS+=($!); done
"$NODE" -n 30 -l 127.0.0.1:$BASE -p "$W/peers" -D -f $((BASE + 200)):36:src:1:0 -f $((BASE + 201)):36:src:1:1 \
    -f $((BASE + 203)):36:src:1:3 -f $((BASE + 205)):36:src:1:5 2>"$W/n0" &
PIDS+=($!)
sleep 1
python3 - "$BASE" "$MB" <<'PY'
import socket, sys, time
base, mb = int(sys.argv[1]), int(sys.argv[2])
def run(port):
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.time(); first = None; n = 0
    while True:
        d = s.recv(1 << 20)
        if not d: break
        if first is None: first = time.time() - t0
        n += len(d)
    dt = time.time() - t0
    assert n == mb << 20, (port, n)
    return n / dt / 1e6, first * 1000
res = {}
for name, off in (("direct", 200), ("1 hop", 201), ("3 hops", 203), ("5 hops", 205)):
    run(base + off)  # warm the sessions
    r = [run(base + off) for _ in range(3)]
    res[name] = (max(x[0] for x in r), min(x[1] for x in r))
d = res["direct"][0]
print(f"{'path':8} {'MB/s':>8} {'vs direct':>10} {'first byte ms':>14}   ({mb} MB per run, best of 3)")
for k, (tp, fb) in res.items():
    print(f"{k:8} {tp:8.1f} {tp / d * 100:9.0f}% {fb:14.1f}")
PY

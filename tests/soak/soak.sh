#!/usr/bin/env bash
# soak.sh — two vx6d nodes under load for SOAK_MINUTES (default 3).
#
#   ns B: vx6d with SOCKS on 127.0.0.1:1080; the load client (soakload.py)
#   ns A: vx6d publishing `echo` -> 127.0.0.1:7000, a python3 echo server
#
# SOAK_CONNS (default 10000) tunnels client -> B SOCKS -> session -> A ->
# echo stay open for the whole run while SOAK_WORKERS (default 20) loops
# connect/16 KiB echo/close.  RSS and open fds of both daemons are sampled
# every 10 s.  Pass criteria: no errors; RSS flat after warm-up (the largest
# sample of the last third of the steady phase at most 10% + 4 MiB above the
# first steady sample); fds back to the baseline (+-2) within 10 s after the
# client closed everything.  Not part of `make check`: run `make soak`.
set -u
SRC=${VX6_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BLD=${VX6_BUILDDIR:-$SRC}
D=$BLD/vx6d V=$BLD/vx6
MIN=${SOAK_MINUTES:-3} CONNS=${SOAK_CONNS:-10000} WORKERS=${SOAK_WORKERS:-20}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v python3 >/dev/null || skip "python3 not installed"
for b in "$D" "$V"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
# each daemon and the client hold about CONNS descriptors, plus churn
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS + CONNS / 5 + 1000)) ] ||
    skip "RLIMIT_NOFILE $(ulimit -n) is too small for $CONNS connections (hard limit $(ulimit -Hn))"
echo "# RLIMIT_NOFILE $(ulimit -n); $CONNS long-lived tunnels, $WORKERS churn workers, $MIN min"

P=vx6s$$
A=$P-a B=$P-b
tmp=$(mktemp -d /tmp/vx6-soak.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    for n in $A $B; do ip netns del "$n" 2>/dev/null; done
    [ -n "${SOAK_KEEP:-}" ] && echo "logs kept in $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add $A || skip "cannot create network namespaces"
ip netns add $B
ip -n $A link add e0 type veth peer name e0 netns $B
for n in $A $B; do
    ip -n $n link set lo up
    ip -n $n link set e0 up
    # churn opens and closes ~100k local connections: widen the port range
    ip netns exec $n sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
    ip netns exec $n sysctl -qw net.ipv4.tcp_tw_reuse=1
done
ip -n $A addr add fd00:50::1/64 dev e0 nodad
ip -n $B addr add fd00:50::2/64 dev e0 nodad

cat >"$tmp/echo.py" <<'PY'
import asyncio
async def h(r, w):
    try:
        while True:
            d = await r.read(65536)
            if not d:
                break
            w.write(d)
            await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    s = await asyncio.start_server(h, "127.0.0.1", 7000, backlog=4096)
    print("ready", flush=True)
    await s.serve_forever()
asyncio.run(main())
PY
ip netns exec $A python3 "$tmp/echo.py" >"$tmp/echo.out" 2>&1 &
pids+=($!)

LIMITS="limits:
  max_connections: 100000
  max_connections_per_client: 100000
  max_streams_per_peer: 100000"
node() { # node NS NAME: config on stdin; sets NODE_PID
    local ns=$1 name=$2
    { echo "data_dir: $tmp/$name.d"; echo "control_socket: $tmp/$name.sock"; echo "log_level: notice"; cat; } \
        >"$tmp/$name.yaml"
    ip netns exec "$ns" "$D" -c "$tmp/$name.yaml" 2>"$tmp/$name.log" &
    NODE_PID=$!
    pids+=($NODE_PID)
    for _ in $(seq 100); do
        "$V" -s "$tmp/$name.sock" status >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "vx6d $name did not start:"; cat "$tmp/$name.log"
    return 1
}
node $A a <<YAML || exit 1
listen: ["[::]:4242"]
socks: off
services:
  - name: echo
    target: 127.0.0.1:7000
$LIMITS
YAML
PID_A=$NODE_PID
node $B b <<YAML || exit 1
listen: ["[::]:4242"]
socks: 127.0.0.1:1080
$LIMITS
YAML
PID_B=$NODE_PID
for _ in $(seq 100); do grep -q ready "$tmp/echo.out" && break; sleep 0.05; done

fds() { ls /proc/$1/fd | wc -l; }
rss() { awk '/^VmRSS/ { print $2 }' /proc/$1/status; }
base_a=$(fds $PID_A) base_b=$(fds $PID_B)
echo "# baseline: A rss ${PID_A}=$(rss $PID_A) kB fds $base_a; B rss $(rss $PID_B) kB fds $base_b"

ip netns exec $B python3 "$SRC/tests/soak/soakload.py" --socks 127.0.0.1:1080 \
    --target echo.fd00-50--1.ipv6.vx6 --port 7 --conns "$CONNS" --workers "$WORKERS" \
    --minutes "$MIN" --pids "$PID_A,$PID_B" --csv "$tmp/samples.csv"
load_rc=$?

fails=0
verdict() { if [ "$1" = ok ]; then echo "ok - $2"; else echo "FAIL - $2"; fails=$((fails + 1)); fi; }
[ $load_rc -eq 0 ] && verdict ok "load: every tunnel and cycle worked, zero errors" ||
    verdict bad "load: errors (see above)"

# fds back to baseline
settled=no
for _ in $(seq 50); do
    fa=$(fds $PID_A) fb=$(fds $PID_B)
    if [ $((fa - base_a)) -le 2 ] && [ $((fb - base_b)) -le 2 ]; then settled=yes; break; fi
    sleep 0.2
done
[ $settled = yes ] && verdict ok "fds back to baseline: A $fa (was $base_a), B $fb (was $base_b)" ||
    verdict bad "fds not back to baseline: A $fa (was $base_a), B $fb (was $base_b)"

# RSS flat after warm-up
python3 - "$tmp/samples.csv" <<'PY' >"$tmp/rss.txt"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["phase"] == "steady"]
cols = [c for c in rows[0] if c.startswith("rss_")] if rows else []
ok = True
for c in cols:
    v = [int(r[c]) for r in rows]
    first, last_third = v[0], v[len(v) * 2 // 3:]
    peak = max(last_third)
    limit = first * 1.10 + 4096
    good = peak <= limit
    ok &= good
    print("%s %s: first steady %d kB, peak of last third %d kB (limit %d), min %d max %d" %
          ("ok" if good else "bad", c, first, peak, limit, min(v), max(v)))
print("verdict", "ok" if ok and cols else "bad")
PY
cat "$tmp/rss.txt" | grep -v verdict
verdict "$(awk '/^verdict/ { print $2 }' "$tmp/rss.txt")" "RSS flat after warm-up"

for n in a b; do
    if grep -Eq " (error|warn) " "$tmp/$n.log"; then
        echo "# $n.log warnings/errors:"; grep -E " (error|warn) " "$tmp/$n.log" | sort | uniq -c | sort -rn | head -5
    fi
done
echo "# samples: $tmp/samples.csv (SOAK_KEEP=1 keeps them)"
[ $fails -eq 0 ] && { echo "# soak passed"; exit 0; }
echo "# soak FAILED ($fails)"
exit 1

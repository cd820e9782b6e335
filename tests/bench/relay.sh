#!/bin/bash
# relay.sh (bench) — throughput and first-byte latency of direct, 1-, 3- and
# 5-hop paths in the same run, on loopback (7 vx6-relay-node processes, no
# diversity rule).  Not a test: prints numbers and the ratio against direct.
# The source and the sink are tests/tools/vx6-tcpblast (C), the same for
# every row, so they cost little next to the paths they measure.  "CPU" is
# the CPU time all these processes used per 100 MB (median of the runs): on
# a shared machine it is steadier than MB/s, and its ratio to direct is what
# the throughput ratio tends to when the path is CPU-bound.
#   usage: tests/bench/relay.sh [MBYTES]   (default 200)
set -u
B=${VX6_BUILDDIR:-.}
NODE=$B/tests/tools/vx6-relay-node
BLAST=$B/tests/tools/vx6-tcpblast
MB=${1:-200}
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
BASE=$((20000 + RANDOM % 20000))
for i in 0 1 2 3 4 5 6; do echo "$((30 + i)) 127.0.0.1:$((BASE + i))" >> "$W/peers"; done
# a source that sends MB megabytes per connection as fast as it can
"$BLAST" serve $((BASE + 100)) "$MB" &
PIDS+=($!)
"$NODE" -n 36 -l 127.0.0.1:$((BASE + 6)) -p "$W/peers" -s src=127.0.0.1:$((BASE + 100)) 2>"$W/n6" &
PIDS+=($!)
for i in 1 2 3 4 5; do "$NODE" -n $((30 + i)) -l 127.0.0.1:$((BASE + i)) -p "$W/peers" -D 2>"$W/n$i" & PIDS+=($!); done
"$NODE" -n 30 -l 127.0.0.1:$BASE -p "$W/peers" -D -f $((BASE + 200)):36:src:1:0 -f $((BASE + 201)):36:src:1:1 \
    -f $((BASE + 203)):36:src:1:3 -f $((BASE + 205)):36:src:1:5 2>"$W/n0" &
PIDS+=($!)
sleep 1
cputicks() { # utime + stime of every process of the bench, in clock ticks
    local t=0 p
    for p in "${PIDS[@]}"; do
        set -- $(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null || echo 0 0)
        t=$((t + $1 + $2))
    done
    echo $t
}
HZ=$(getconf CLK_TCK)
printf '%-8s %8s %10s %14s %12s %10s   (%s MB per run, best of 3)\n' path MB/s "vs direct" \
    "first byte ms" "CPU ms/100MB" "vs direct" "$MB"
D= DC=
for row in "direct 200" "1-hop 201" "3-hops 203" "5-hops 205"; do
    set -- $row
    "$BLAST" get $((BASE + $2)) "$MB" > /dev/null || { echo "$1: transfer failed" >&2; exit 1; }  # warm the sessions
    : > "$W/r"
    : > "$W/c"
    for k in 1 2 3; do
        c0=$(cputicks)
        "$BLAST" get $((BASE + $2)) "$MB" >> "$W/r" || exit 1
        echo $((($(cputicks) - c0) * 1000 * 100 / HZ / MB)) >> "$W/c"
    done
    tp=$(sort -g -k1 "$W/r" | tail -1 | cut -d' ' -f1)
    fb=$(sort -g -k2 "$W/r" | head -1 | cut -d' ' -f2)
    cpu=$(sort -g "$W/c" | sed -n 2p)
    D=${D:-$tp}
    DC=${DC:-$cpu}
    awk -v n="${1/-/ }" -v tp="$tp" -v d="$D" -v fb="$fb" -v c="$cpu" -v dc="$DC" \
        'BEGIN { printf "%-8s %8.1f %9.0f%% %14.1f %12d %9.0f%%\n", n, tp, tp / d * 100, fb, c, dc / (c ? c : 1) * 100 }'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

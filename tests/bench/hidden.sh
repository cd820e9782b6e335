#!/bin/bash
# hidden.sh — hidden-service timings on loopback (not a timed test: prints
# numbers and ratios).  10 vx6-hs-node processes on 127.0.0.1 (diversity
# off); in the same run:
#   publish      owner start -> descriptor published (the owner's own count)
#   first        owner start -> first successful client connection
#   cold         a fresh client process: descriptor fetch + rendezvous + BEGIN
#   throughput   a 50 MB download through the rendezvous (fast 3+X+3)
#                vs a direct vx6 stream (vx6-relay-node, 0 hops)
# For reference: a local Tor onion service measures ~170 ms to first
# connect on loopback.
set -u
B=${VX6_BUILDDIR:-.}
NODE=$B/tests/tools/vx6-hs-node
RNODE=$B/tests/tools/vx6-relay-node
W=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
BASE=$((20000 + RANDOM % 20000))
for i in $(seq 0 9); do echo "$((50 + i)) 127.0.0.1:$((BASE + i))" >> "$W/peers"; done
mkdir -p "$W/www"
head -c 50000000 /dev/urandom > "$W/www/big.bin"
python3 -m http.server $((BASE + 50)) --bind 127.0.0.1 --directory "$W/www" >/dev/null 2>&1 &
PIDS+=($!)
for i in $(seq 1 8); do
    "$NODE" -D -n $((50 + i)) -l 127.0.0.1:$((BASE + i)) -p "$W/peers" 2>/dev/null &
    PIDS+=($!)
done
sleep 0.5
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
"$NODE" -D -n 59 -l 127.0.0.1:$((BASE + 9)) -p "$W/peers" -H web=127.0.0.1:$((BASE + 50)) -A "$W/addr" \
    2>"$W/owner.log" &
PIDS+=($!)
while [ ! -s "$W/addr" ]; do sleep 0.002; done
A=$(cat "$W/addr")
ok=""
for k in $(seq 50); do
    out=$("$NODE" -D -n 50 -l 127.0.0.1:$((BASE + 0)) -p "$W/peers" -q "$A:80") && { ok=1; break; }
done
t1=$(ms)
[ -n "$ok" ] || { echo "FAIL: no connection"; exit 1; }
pub=$(grep -o "reachable after [0-9]* ms" "$W/owner.log" | head -1)
echo "publish:  $pub"
echo "first:    owner start -> first successful connection: $((t1 - t0)) ms (incl. a 300 ms client warm-up; probe: $out)"
cold=()
for k in 1 2 3 4 5; do
    o=$("$NODE" -D -n 50 -l 127.0.0.1:$((BASE + 0)) -p "$W/peers" -q "$A:80")
    cold+=("${o#ok open_ms=}")
done
echo "cold:     fresh client, descriptor fetch + rendezvous + BEGIN: ${cold[*]} ms"
"$NODE" -D -n 50 -l 127.0.0.1:$((BASE + 0)) -p "$W/peers" -c $((BASE + 60)):$A:80 2>/dev/null &
PIDS+=($!)
# direct path: two relay nodes, a 0-hop stream
echo "70 127.0.0.1:$((BASE + 70))" > "$W/rpeers"
echo "71 127.0.0.1:$((BASE + 71))" >> "$W/rpeers"
"$RNODE" -n 71 -l 127.0.0.1:$((BASE + 71)) -p "$W/rpeers" -s web=127.0.0.1:$((BASE + 50)) 2>/dev/null &
PIDS+=($!)
"$RNODE" -n 70 -l 127.0.0.1:$((BASE + 70)) -p "$W/rpeers" -f $((BASE + 61)):71:web:80:0 2>/dev/null &
PIDS+=($!)
sleep 0.5
rate() { curl -s -o /dev/null -w "%{speed_download}" "http://127.0.0.1:$1/big.bin"; }
h=$(rate $((BASE + 60)))
d=$(rate $((BASE + 61)))
awk -v h="$h" -v d="$d" 'BEGIN {
    printf "throughput: hidden %.1f MB/s, direct %.1f MB/s, hidden/direct = %.2f\n",
        h / 1e6, d / 1e6, (d > 0 ? h / d : 0) }'

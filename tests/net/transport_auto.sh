#!/bin/bash
# transport_auto.sh — the auto carrier between two namespaces (c and s, one
# veth, IPv6).  1) open path: a 4 MiB transfer goes over QUIC.  2) UDP to
# the server's node port blackholed: the same transfer still works, over
# TCP, after the QUIC budget.
# Neither nft nor iptables is installed on this system (Debian 12 image
# without them), so UDP is blocked with policy routing in the server's
# namespace: a rule `ipproto udp dport PORT blackhole` placed before the
# local table silently drops the datagrams (no ICMP, like a firewall DROP).
# If even that is unavailable, the server listens TCP only (the client then
# gets ICMP port unreachable) and the script says so.
set -u
B=${VX6_BUILDDIR:-.}
PEER=$B/tests/tools/vx6-xfer-peer
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
[ -x "$PEER" ] || { echo "FAIL: $PEER not built"; exit 1; }
ip netns add vx6probe$$ 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del vx6probe$$
P=vx6ta$$
W=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del ${P}c 2>/dev/null
    ip netns del ${P}s 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$W"/*.log; do echo "== $f"; tail -5 "$f"; done; exit 1; }

ip netns add ${P}c
ip netns add ${P}s
ip link add vc netns ${P}c type veth peer name vs netns ${P}s
ip -n ${P}c addr add fd00:76::1/64 dev vc nodad
ip -n ${P}s addr add fd00:76::2/64 dev vs nodad
for n in c s; do ip -n ${P}$n link set lo up; done
ip -n ${P}c link set vc up
ip -n ${P}s link set vs up
# wait for the link (packets sent before carrier are lost, and a lost
# QUIC Initial costs a PTO, which would eat into the fallback budget)
for _ in $(seq 50); do
    ip netns exec ${P}c ping -6 -c1 -W1 fd00:76::2 >/dev/null 2>&1 && break
    sleep 0.1
done
PORT=$((20000 + RANDOM % 30000))
SIZE=$((4 * 1024 * 1024))

# run SERVER_CARRIER NAME: one transfer, echo the client's carrier
run() {
    local srv=$1 name=$2
    ip netns exec ${P}s "$PEER" listen "$srv" fd00:76::2 $PORT >"$W/$name.srv.out" 2>"$W/$name.srv.log" &
    local sp=$!
    PIDS+=($sp)
    for _ in $(seq 50); do grep -q listening "$W/$name.srv.log" && break; sleep 0.1; done
    ip netns exec ${P}c timeout 30 "$PEER" dial auto fd00:76::2 $PORT $SIZE 0 \
        >"$W/$name.cli.out" 2>"$W/$name.cli.log" || fail "$name: transfer failed"
    wait $sp || fail "$name: server failed"
    grep -q "bytes=$SIZE" "$W/$name.srv.out" || fail "$name: server did not get $SIZE bytes"
    sed -n 's/.*carrier=\([a-z]*\).*/\1/p' "$W/$name.cli.out"
}

c=$(run auto open)
[ "$c" = quic ] || fail "open path used '$c', want quic"
echo "ok: open path -> QUIC ($(cat "$W/open.cli.out"))"

srv=auto
if ip -n ${P}s -6 rule add pref 10 ipproto udp dport $PORT blackhole 2>/dev/null &&
    ip -n ${P}s -6 rule add pref 100 lookup local &&
    ip -n ${P}s -6 rule del pref 0 lookup local; then
    how="UDP port $PORT blackholed on the server (policy routing)"
else
    srv=tcp
    how="policy routing unavailable: server does not listen QUIC (ICMP unreachable)"
fi
c=$(run $srv blocked)
[ "$c" = tcp ] || fail "blocked UDP used '$c', want tcp"
grep -q "falling back to TCP" "$W/blocked.cli.log" || fail "no fallback logged"
ms=$(sed -n 's/.*open_ms=\([0-9]*\).*/\1/p' "$W/blocked.cli.out")
[ "$ms" -lt 3000 ] || fail "fallback took $ms ms"
echo "ok: $how -> TCP, open after $ms ms"
exit 0

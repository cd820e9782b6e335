#!/bin/bash
# quic_migration.sh — QUIC connection migration on an address change.  Two
# namespaces (c, s) on one veth, IPv6.  A paced 12 MiB transfer runs from c
# to s over QUIC; mid-transfer c's address changes (add the new one, delete
# the old one) and the client calls vx_transport_rebind() (SIGUSR1 to the
# test peer, what vx6d does on a netlink address event).  The stream must
# complete with every byte, and the server must have seen the new address.
set -u
B=${VX6_BUILDDIR:-.}
PEER=$B/tests/tools/vx6-xfer-peer
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
[ -x "$PEER" ] || { echo "FAIL: $PEER not built"; exit 1; }
ip netns add vx6probe$$ 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del vx6probe$$
P=vx6qm$$
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
fail() { echo "FAIL: $*"; for f in "$W"/*.log; do echo "== $f"; tail -8 "$f"; done; exit 1; }

ip netns add ${P}c
ip netns add ${P}s
ip link add vc netns ${P}c type veth peer name vs netns ${P}s
ip -n ${P}c addr add fd00:77::1/64 dev vc nodad
ip -n ${P}s addr add fd00:77::2/64 dev vs nodad
for n in c s; do ip -n ${P}$n link set lo up; done
ip -n ${P}c link set vc up
ip -n ${P}s link set vs up
for _ in $(seq 50); do
    ip netns exec ${P}c ping -6 -c1 -W1 fd00:77::2 >/dev/null 2>&1 && break
    sleep 0.1
done
PORT=$((20000 + RANDOM % 30000))
SIZE=$((12 * 1024 * 1024))

ip netns exec ${P}s "$PEER" listen quic fd00:77::2 $PORT >"$W/srv.out" 2>"$W/srv.log" &
sp=$!
PIDS+=($sp)
for _ in $(seq 50); do grep -q listening "$W/srv.log" && break; sleep 0.1; done
# 4 MiB/s: about 3 s of transfer
ip netns exec ${P}c "$PEER" dial quic fd00:77::2 $PORT $SIZE 4096 >"$W/cli.out" 2>"$W/cli.log" &
cp=$!
PIDS+=($cp)
sleep 1
kill -0 $cp 2>/dev/null || fail "client ended before the address change"
ip -n ${P}c addr add fd00:77::11/64 dev vc nodad
ip -n ${P}c addr del fd00:77::1/64 dev vc
kill -USR1 $cp
wait $cp || fail "transfer did not survive the address change"
wait $sp || fail "server failed"
grep -q "bytes=$SIZE" "$W/srv.out" || fail "server did not get $SIZE bytes"
grep -q "rebind: 1 connection" "$W/cli.log" || fail "client did not migrate"
grep -q "fd00:77::11.*validated" "$W/srv.log" || fail "server never validated the new address"
echo "ok: $SIZE bytes over QUIC across an address change ($(cat "$W/cli.out"))"
exit 0

#!/bin/bash
# xdp.sh — the XDP classifier on a veth in a network namespace.
#
#   B (flooder) ---+
#                  +-- bridge (SW) -- T (target: XDP on t0, UDP echo on 4242)
#   C (legit)   ---+
#
# Attach in generic mode: check per-class counters, a malformed datagram and
# the blocklist.  Attach in native mode: flood from B over the rate limit and
# show C's requests still answered.  Detach leaves no program behind.
set -u

SRC=${VX6_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BLD=${VX6_BUILDDIR:-$SRC}
CTL=$BLD/tests/tools/vx6-xdpctl
BLAST=$BLD/tests/tools/vx6-udpblast
PY=$SRC/tests/net/vx6udp.py
PORT=4242

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces and XDP"
command -v ip >/dev/null || skip "iproute2 (ip) not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[ -x "$CTL" ] || { echo "FAIL: $CTL not built"; exit 1; }

P=vx6x$$
T=$P-t B=$P-b C=$P-c SW=$P-sw
SERVER=

cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    for n in $T $B $C $SW; do ip netns del "$n" 2>/dev/null; done
}
trap cleanup EXIT

fails=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ctr() { # ctr NAME -> packets of pass.NAME / drop.NAME
    nsx $T "$CTL" status t0 | awk -v k="$1" '$1 == k { print $2 }'
}

ip netns add $SW || skip "cannot create network namespaces"
for n in $T $B $C; do ip netns add $n; done
ip -n $SW link add br0 type bridge
ip -n $SW link set br0 up
i=1
for n in $T $B $C; do
    l=${n##*-}0
    ip -n $n link add $l type veth peer name sw-$l netns $SW
    ip -n $SW link set sw-$l master br0 up
    ip -n $n link set lo up
    ip -n $n link set $l up
done
# Distinct /64s (and /32s) on one link: the rate limit keys per prefix.
ip -n $T addr add fd00:6::1/48 dev t0 nodad
ip -n $B addr add fd00:6:0:b::2/48 dev b0 nodad
ip -n $C addr add fd00:6:0:c::3/48 dev c0 nodad
ip -n $T addr add 10.66.0.1/24 dev t0
ip -n $B addr add 10.66.0.2/24 dev b0
ip -n $C addr add 10.66.0.3/24 dev c0

# exec: $! is the server itself, not a subshell, so cleanup's kill reaches it
(exec ip netns exec $T python3 "$PY" serve $PORT) > "${TMPDIR:-/tmp}/$P.serve" 2>&1 &
SERVER=$!
for _ in $(seq 50); do grep -q ready "${TMPDIR:-/tmp}/$P.serve" 2>/dev/null && break; sleep 0.1; done
rm -f "${TMPDIR:-/tmp}/$P.serve"

# Neighbours resolved before counting, so the counts below are ours alone.
check "C reaches T before XDP" [ "$(nsx $C python3 "$PY" ping fd00:6::1 $PORT 2 0)" = 2 ]
nsx $B python3 "$PY" ping 10.66.0.1 $PORT 1 0 >/dev/null

# --- generic mode: classes, malformed, blocklist ---------------------------
out=$(nsx $T "$CTL" attach t0 generic --rate 100000 --burst 100000 2>&1)
if [ $? -ne 0 ]; then
    case $out in
    *"built without XDP"*) skip "$out" ;;
    esac
    echo "FAIL attach generic: $out"; exit 1
fi
check "ip link shows xdpgeneric" eval "ip -n $T link show t0 | grep -q xdpgeneric"
nsx $B python3 "$PY" send fd00:6::1 $PORT dht 5
nsx $B python3 "$PY" send 10.66.0.1 $PORT quic 3
nsx $B python3 "$PY" send 10.66.0.1 $PORT short 2
nsx $B python3 "$PY" tcp fd00:6::1 $PORT
sleep 0.2
check "5 DHT datagrams (IPv6) counted" [ "$(ctr pass.dht)" = 5 ]
check "3 QUIC datagrams (IPv4) counted" [ "$(ctr pass.quic)" = 3 ]
check "TCP session packets counted (>= 3)" [ "$(ctr pass.tcp)" -ge 3 ]
check "2 short datagrams dropped" [ "$(ctr drop.short)" = 2 ]

nsx $T "$CTL" block t0 fd00:6:0:b::/64
check "blocked B gets no answer" [ "$(nsx $B python3 "$PY" ping fd00:6::1 $PORT 2 0)" = 0 ]
check "blocked B: drops counted" [ "$(ctr drop.blocked)" -ge 2 ]
check "C still answered" [ "$(nsx $C python3 "$PY" ping fd00:6::1 $PORT 2 0)" = 2 ]
nsx $T "$CTL" unblock t0 fd00:6:0:b::/64
check "unblocked B answered" [ "$(nsx $B python3 "$PY" ping fd00:6::1 $PORT 2 0)" = 2 ]

nsx $T "$CTL" status t0
id=$(nsx $T "$CTL" status t0 --json | sed -n 's/.*"prog_id":\([0-9]*\).*/\1/p')
check "detach generic" nsx $T "$CTL" detach t0
check "no xdp on t0 after detach" eval "! ip -n $T link show t0 | grep -q xdp"

# --- native mode: flood from B, C still served -----------------------------
out=$(nsx $T "$CTL" attach t0 native --rate 200 --burst 100 2>&1)
if [ $? -ne 0 ]; then
    echo "FAIL attach native: $out"; exit 1
fi
check "ip link shows native xdp" eval "ip -n $T link show t0 | grep -q 'prog/xdp '"
nsx $C python3 "$PY" send fd00:6::1 $PORT dht 5
sleep 0.2
check "native: 5 DHT datagrams counted" [ "$(ctr pass.dht)" = 5 ]

nsx $B "$BLAST" send fd00:6::1 $PORT 3 64 > "${TMPDIR:-/tmp}/$P.blast" &
blast=$!
sleep 0.3
got=$(nsx $C python3 "$PY" ping fd00:6::1 $PORT 20 0.1)
wait $blast
echo "flood from B: $(cat "${TMPDIR:-/tmp}/$P.blast") (packets seconds pps)"
rm -f "${TMPDIR:-/tmp}/$P.blast"
nsx $T "$CTL" status t0
rate=$(ctr drop.rate)
passed=$(ctr pass.quic) # B's junk starts with 'V' 'V': QUIC-shaped
check "C answered during the flood ($got/20)" [ "$got" -ge 18 ]
check "flood dropped in XDP over the rate ($rate)" [ "$rate" -ge 1000 ]
check "B held to its rate (passed $passed <= 100 + 3.5 s * 200)" [ "$passed" -le 800 ]

nid=$(nsx $T "$CTL" status t0 --json | sed -n 's/.*"prog_id":\([0-9]*\).*/\1/p')
check "detach native" nsx $T "$CTL" detach t0
check "no xdp on t0 after detach" eval "! ip -n $T link show t0 | grep -q xdp"
gone() {
    local n
    for n in $(seq 20); do
        bpftool prog show id "$1" >/dev/null 2>&1 || return 0
        sleep 0.1
    done
    return 1
}
if command -v bpftool >/dev/null; then
    check "programs $id and $nid unloaded" eval "gone $id && gone $nid"
fi
check "status after detach says no program" eval "! nsx $T $CTL status t0 2>/dev/null"

[ $fails = 0 ] && echo "PASS" || echo "$fails check(s) failed"
[ $fails = 0 ]

#!/bin/bash
# bench/xdp.sh — junk from a blocklisted source: dropped in XDP vs discarded
# by a user-space UDP socket loop, measured in the same run on one veth pair.
#
#   bash tests/bench/xdp.sh [SECONDS] [native|generic]
#
# Prints packets per second for each side and the ratio XDP / user space.
# The sender (vx6-udpblast, sendmmsg) runs in a second namespace; on veth the
# sender's CPU also runs the receive path, so both sides share 2 cores with it.
set -u

SRC=${VX6_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BLD=${VX6_BUILDDIR:-$SRC}
CTL=$BLD/tests/tools/vx6-xdpctl
BLAST=$BLD/tests/tools/vx6-udpblast
SECS=${1:-3}
MODE=${2:-native}
PORT=4242

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$CTL" ] && [ -x "$BLAST" ] || { echo "build first: make"; exit 1; }

P=vx6b$$
T=$P-t B=$P-b
cleanup() { ip netns del $T 2>/dev/null; ip netns del $B 2>/dev/null; }
trap cleanup EXIT
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ctr() { nsx $T "$CTL" status t0 | awk -v k="$1" '$1 == k { print $2 }'; }

ip netns add $T && ip netns add $B || exit 1
ip -n $T link add t0 type veth peer name b0 netns $B
ip -n $T link set t0 up
ip -n $B link set b0 up
ip -n $T addr add fd00:7::1/64 dev t0 nodad
ip -n $B addr add fd00:7::2/64 dev b0 nodad
# A blocklisted source cannot resolve neighbours (its NS/NA die in XDP too).
mac=$(ip -n $T -br link show t0 | awk '{ print $3 }')
ip -n $B neigh replace fd00:7::1 lladdr "$mac" dev b0 nud permanent

# XDP side: the source is blocklisted; every datagram dies in the driver hook.
nsx $T "$CTL" attach t0 "$MODE" >/dev/null 2>&1 || { echo "attach failed"; exit 1; }
nsx $T "$CTL" block t0 fd00:7::2/128 2>/dev/null
before=$(ctr drop.blocked)
t0=$(date +%s.%N)
sent_xdp=$(nsx $B "$BLAST" send fd00:7::1 $PORT "$SECS" 64)
t1=$(date +%s.%N)
after=$(ctr drop.blocked)
nsx $T "$CTL" detach t0 2>/dev/null
xdp_pps=$(awk -v n=$((after - before)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')

# User-space side: the same flood into a socket loop that reads and discards.
rcvbuf_before=$(nsx $T awk '$1 == "Udp6RcvbufErrors" { print $2 }' /proc/net/snmp6)
nsx $T "$BLAST" sink $PORT "$(awk -v s="$SECS" 'BEGIN { print s + 0.5 }')" > "${TMPDIR:-/tmp}/$P.sink" &
sink=$!
sleep 0.2
sent_user=$(nsx $B "$BLAST" send fd00:7::1 $PORT "$SECS" 64)
wait $sink
read -r got secs user_pps < "${TMPDIR:-/tmp}/$P.sink"
rm -f "${TMPDIR:-/tmp}/$P.sink"
rcvbuf_after=$(nsx $T awk '$1 == "Udp6RcvbufErrors" { print $2 }' /proc/net/snmp6)
# The socket loop was busy for SECS of its SECS + 0.5 s; rate over the flood.
user_pps=$(awk -v n="$got" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')

echo "sender (XDP run):        $sent_xdp   (packets seconds pps)"
echo "sender (user-space run): $sent_user   (packets seconds pps)"
echo "XDP ($MODE) dropped:     $((after - before)) packets, $xdp_pps pps"
echo "user-space recv loop:    $got packets, $user_pps pps ($((rcvbuf_after - rcvbuf_before)) more dropped by the kernel: socket buffer full)"
awk -v x="$xdp_pps" -v u="$user_pps" 'BEGIN { printf "ratio XDP/user-space: %.2fx\n", (u > 0 ? x / u : 0) }'

#!/bin/bash
# proxy.sh — the proxy gateway's direct path against plain loopback, ssh -D
# (OpenSSH dynamic forward, chacha20-poly1305) and microsocks.
#
#   ns1: targets on 127.0.0.1 (sink, first-byte), node A (publishes them),
#        sshd on 10.55.0.1:2222, microsocks on 10.55.0.1:1082
#   ns2: node B (SOCKS on 127.0.0.1:1080), ssh -D 127.0.0.1:1081, the clients
#   ns3, ns4: the same pair as ns1, ns2 with `transport: tcp` (row "vx6 tcp");
#        ns1/ns2 run the default `transport: auto`, which carries the
#        session over QUIC (row "vx6 quic")
# Bulk: MiB through one connection into the sink.  Latency: sequential
# connections, connect() to first byte (the session is warm).  Memory:
# IDLE connections held open through each daemon, RSS delta / IDLE.
# Not a timed test (not in TESTS).  Usage: proxy.sh [MiB] [N_LAT] [IDLE]
. "$(dirname "$0")/../net/lib.sh"
vx_require_root
MIB=${1:-1024}
NLAT=${2:-1000}
IDLE=${3:-10000}
PB="python3 $VX_SRC/tests/bench/proxybench.py"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
SINK=7001 FIRST=7002

vx_netns_up 4
A=$(vx_node_addr 1)
AT=$(vx_node_addr 3)
LIM="limits: {max_connections: 100000, max_connections_per_client: 100000, max_streams_per_peer: 100000}"
# pair NS_A NS_B NAME_A NAME_B TRANSPORT
pair() {
    vx_bg $1 $PB serve $SINK $FIRST
    vx_wait_tcp $1 127.0.0.1 $SINK || return 1
    vx_node $1 $3 <<YAML || return 1
listen: ["[::]:4242"]
transport: $5
socks: off
log_level: warn
$LIM
services:
  - name: sink
    target: 127.0.0.1:$SINK
  - name: first
    target: 127.0.0.1:$FIRST
YAML
    vx_node $2 $4 <<YAML || return 1
listen: ["[::]:4242"]
transport: $5
socks: 127.0.0.1:1080
log_level: warn
$LIM
YAML
}
pair 1 2 a b auto || exit 1
pair 3 4 at bt tcp || exit 1

have_ssh=0
if command -v sshd >/dev/null && command -v ssh >/dev/null; then
    mkdir -p /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$VX_TMP/hostkey"
    ssh-keygen -q -t ed25519 -N '' -f "$VX_TMP/userkey"
    cp "$VX_TMP/userkey.pub" "$VX_TMP/authorized_keys"
    cat >"$VX_TMP/sshd_config" <<CFG
ListenAddress 10.55.0.1:2222
HostKey $VX_TMP/hostkey
AuthorizedKeysFile $VX_TMP/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile none
AllowTcpForwarding yes
CFG
    vx_bg 1 /usr/sbin/sshd -D -e -f "$VX_TMP/sshd_config"
    vx_wait_tcp 1 10.55.0.1 2222 &&
        vx_bg 2 ssh -N -D 127.0.0.1:1081 -c chacha20-poly1305@openssh.com -i "$VX_TMP/userkey" \
            -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
            -p 2222 root@10.55.0.1 &&
        vx_wait_tcp 2 127.0.0.1 1081 && have_ssh=1 SSHC_PID=${VX_PIDS[-1]}
fi
have_ms=0
if command -v microsocks >/dev/null; then
    # microsocks logs every connection on stderr; the rows would drown in it.
    vx_bg 1 sh -c 'exec microsocks -i 10.55.0.1 -p 1082 2>/dev/null'
    MS_PID=${VX_PIDS[-1]} # exec: the pid is microsocks itself (not another run's)
    vx_wait_tcp 1 10.55.0.1 1082 && have_ms=1
fi

rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; } # KiB, 0 if gone

# row NAME NS MODE PROXYPORT HOSTPREFIX PIDS
declare -A TP P50 P99 MEM
row() {
    local name=$1 ns=$2 mode=$3 pp=$4 host=$5 pids=$6
    local sinkh firsth
    if [ "$mode" = plain ]; then sinkh=127.0.0.1 firsth=127.0.0.1; else sinkh=$host firsth=$host; fi
    case $host in vx6:*) sinkh=sink.${host#vx6:}.ipv6.vx6 firsth=first.${host#vx6:}.ipv6.vx6 ;; esac
    TP[$name]=$(nsx $ns $PB bulk $mode $pp $sinkh $SINK $MIB)
    local p50 p99
    read -r p50 p99 < <(nsx $ns $PB lat $mode $pp $firsth $FIRST $NLAT)
    P50[$name]=$p50 P99[$name]=$p99
    if [ -n "$pids" ]; then
        local before=0 after=0 p
        for p in $pids; do before=$((before + $(rss $p))); done
        local fifo=$VX_TMP/idle.fifo line
        rm -f "$fifo" && mkfifo "$fifo"
        # The client holds its connections until its stdin (fd 8) closes.
        exec 8> >(nsx $ns $PB idle $mode $pp $firsth $FIRST $IDLE >"$fifo")
        read -r line <"$fifo"
        sleep 0.5
        for p in $pids; do after=$((after + $(rss $p))); done
        if [ "$line" = open ]; then
            MEM[$name]=$(awk -v a=$after -v b=$before -v n=$IDLE 'BEGIN { printf "%.2f", (a - b) / n }')
        else
            MEM[$name]=failed
        fi
        exec 8>&-
        sleep 1
    else
        MEM[$name]=-
    fi
}

row loopback 1 plain none 127.0.0.1 ""
row "vx6 quic" 2 socks 127.0.0.1:1080 vx6:$A "$NODE_PID_a $NODE_PID_b"
row "vx6 tcp" 4 socks 127.0.0.1:1080 vx6:$AT "$NODE_PID_at $NODE_PID_bt"
if [ $have_ssh = 1 ]; then
    SSHD_PIDS=$(pgrep -f "sshd.*$VX_TMP" | tr '\n' ' ')
    row "ssh -D" 2 socks 127.0.0.1:1081 127.0.0.1 "$SSHD_PIDS $SSHC_PID"
fi
[ $have_ms = 1 ] && row microsocks 2 socks 10.55.0.1:1082 127.0.0.1 "$MS_PID"

echo
echo "bulk ${MIB} MiB, latency over $NLAT sequential connections, memory over $IDLE idle connections"
echo "(machine shared with other builds: numbers are indicative)"
printf "%-12s %12s %10s %10s %16s\n" path "MB/s" "p50 ms" "p99 ms" "KiB/conn (RSS)"
for n in loopback "vx6 quic" "vx6 tcp" "ssh -D" microsocks; do
    [ -n "${TP[$n]:-}" ] || continue
    printf "%-12s %12s %10s %10s %16s\n" "$n" "${TP[$n]}" "${P50[$n]}" "${P99[$n]}" "${MEM[$n]}"
done
echo
ratio() { # WHAT A B [SUFFIX]
    [ -n "${TP[$2]:-}" ] && [ -n "${TP[$3]:-}" ] || return 0
    awk -v a="${TP[$2]}" -v b="${TP[$3]}" -v w="$1" -v n="$2 / $3" -v s="${4:-}" \
        'BEGIN { printf "%s %s: %.2fx%s\n", w, n, a / b, s }'
}
for v in "vx6 quic" "vx6 tcp"; do
    ratio throughput "$v" "ssh -D" " (target >= 2x)"
    ratio throughput "$v" microsocks
    ratio throughput "$v" loopback
    [ -n "${P50["ssh -D"]:-}" ] &&
        awk -v a="${P50[$v]}" -v b="${P50["ssh -D"]}" -v n="$v" 'BEGIN { printf "p50 latency %s / ssh -D: %.2fx\n", n, a / b }'
    echo "p50 connect+first byte through $v: ${P50[$v]} ms (target < 1 ms)"
done
[ $have_ms = 1 ] && [ -z "${TP[microsocks]:-}" ] && echo "microsocks row failed (see the errors above)"
exit 0

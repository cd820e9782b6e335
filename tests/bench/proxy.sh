#!/bin/bash
# proxy.sh — the proxy gateway's direct path against plain loopback, ssh -D
# (OpenSSH dynamic forward, chacha20-poly1305) and microsocks.
#
#   ns1: targets on 127.0.0.1 (sink, first-byte), node A (publishes them),
#        sshd on 10.55.0.1:2222, microsocks on 10.55.0.1:1082
#   ns2: node B (SOCKS on 127.0.0.1:1080), ssh -D 127.0.0.1:1081, the clients
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

vx_netns_up 2
A=$(vx_node_addr 1)
vx_bg 1 $PB serve $SINK $FIRST
vx_wait_tcp 1 127.0.0.1 $SINK || exit 1
LIM="limits: {max_connections: 100000, max_connections_per_client: 100000, max_streams_per_peer: 100000}"
vx_node 1 a <<YAML || exit 1
listen: ["[::]:4242"]
socks: off
log_level: warn
$LIM
services:
  - name: sink
    target: 127.0.0.1:$SINK
  - name: first
    target: 127.0.0.1:$FIRST
YAML
vx_node 2 b <<YAML || exit 1
listen: ["[::]:4242"]
socks: 127.0.0.1:1080
log_level: warn
$LIM
YAML

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
    [ "$host" = vx6 ] && sinkh=sink.$A.ipv6.vx6 firsth=first.$A.ipv6.vx6
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
row vx6 2 socks 127.0.0.1:1080 vx6 "$NODE_PID_a $NODE_PID_b"
if [ $have_ssh = 1 ]; then
    SSHD_PIDS=$(pgrep -f "sshd.*$VX_TMP" | tr '\n' ' ')
    row "ssh -D" 2 socks 127.0.0.1:1081 127.0.0.1 "$SSHD_PIDS $SSHC_PID"
fi
[ $have_ms = 1 ] && row microsocks 2 socks 10.55.0.1:1082 127.0.0.1 "$MS_PID"

echo
echo "bulk ${MIB} MiB, latency over $NLAT sequential connections, memory over $IDLE idle connections"
echo "(machine shared with other builds: numbers are indicative)"
printf "%-12s %12s %10s %10s %16s\n" path "MB/s" "p50 ms" "p99 ms" "KiB/conn (RSS)"
for n in loopback vx6 "ssh -D" microsocks; do
    [ -n "${TP[$n]:-}" ] || continue
    printf "%-12s %12s %10s %10s %16s\n" "$n" "${TP[$n]}" "${P50[$n]}" "${P99[$n]}" "${MEM[$n]}"
done
echo
if [ -n "${TP["ssh -D"]:-}" ]; then
    awk -v a="${TP[vx6]}" -v b="${TP["ssh -D"]}" 'BEGIN { printf "throughput vx6 / ssh -D: %.2fx (target >= 2x)\n", a / b }'
    awk -v a="${P50[vx6]}" -v b="${P50["ssh -D"]}" 'BEGIN { printf "p50 latency vx6 / ssh -D: %.2fx\n", a / b }'
fi
if [ $have_ms = 1 ]; then
    if [ -n "${TP[microsocks]:-}" ]; then
        awk -v a="${TP[vx6]}" -v b="${TP[microsocks]}" 'BEGIN { printf "throughput vx6 / microsocks: %.2fx\n", a / b }'
        awk -v a="${P50[vx6]}" -v b="${P50[microsocks]}" 'BEGIN { printf "p50 latency vx6 / microsocks: %.2fx\n", a / b }'
    else
        echo "microsocks row failed (see the errors above)"
    fi
fi
awk -v a="${TP[vx6]}" -v b="${TP[loopback]}" 'BEGIN { printf "throughput vx6 / loopback: %.2fx\n", a / b }'
echo "p50 connect+first byte through vx6: ${P50[vx6]} ms (target < 1 ms)"
echo "daemon memory per idle proxied connection (A+B): ${MEM[vx6]} KiB (target < 64 KiB)"

#!/bin/bash
# xdp_flood.sh — a UDP flood on the node port is dropped in XDP while a
# legitimate node, started during the flood, resolves a name through the DHT
# and connects through it.
#
#   ns1: node A (fd00:1::1), user alice, publishes `web` (python3 http.server
#        on 127.0.0.1:8080); XDP on e0, udp_rate 1000/s, burst 2000 per /64
#   ns2: the flooder (fd00:2::1): vx6-udpblast, FLOOD_PPS datagrams/s of
#        64 bytes at A's node port, no vx6d
#   ns3, ns4: legitimate nodes C1, C2 (fd00:3::1, fd00:4::1), bootstrapped
#        from A, SOCKS on 127.0.0.1:1080
# All on one bridge, each in its own /48 (so its own /64 for the rate limit).
#
# Two rounds, each with a fresh legitimate node that has never seen alice:
#   native XDP (from the config), junk QUIC-shaped flood  -> C1
#   generic XDP (vx6 ebpf attach), DHT PING-shaped flood  -> C2
# In each: start the flood, then start C, `vx6 resolve alice.web.vx6` (a DHT
# lookup, not the cache), curl http://alice.web.vx6/ through C's SOCKS port;
# the flooder is still sending afterwards.  The XDP counters (vx6 ebpf status
# --json, vx6 status --json) show the flood dropped over its per-source rate
# (all it sent but at most burst + rate x seconds), C's traffic passed, and
# no block on C's prefix; the CPU time vx6d on A spent meanwhile is printed.
# Then detach: no program left on e0.  FLOOD_PPS (default 50000) sets the
# flood rate.
. "$(dirname "$0")/lib.sh"
vx_require_root
command -v curl >/dev/null || vx_skip "curl not installed"
command -v python3 >/dev/null || vx_skip "python3 not installed"
BLAST=$VX_BLD/tests/tools/vx6-udpblast
for b in "$VX_BLD/vx6d" "$VX_BLD/vx6" "$BLAST"; do
    [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }
done
[ "$(basename "$(vx_node_bin)")" = vx6d ] || vx_skip "needs vx6d (VX6_NODE_BIN is $(vx_node_bin))"

FLOOD_PPS=${FLOOD_PPS:-50000}
RATE=1000 BURST=2000
A_IP=$(vx_ip48 1) B_IP=$(vx_ip48 2)

vx_netns_up48 4
mkdir -p "$VX_TMP/www"
echo "hello from alice under flood" >"$VX_TMP/www/index.html"
head -c 2000000 /dev/urandom >"$VX_TMP/www/big.bin"
BIG_SUM=$(sha256sum <"$VX_TMP/www/big.bin")
vx_bg 1 python3 -m http.server --bind 127.0.0.1 --directory "$VX_TMP/www" 8080 \
    >"$VX_TMP/httpd.out" 2>&1
vx_wait_tcp 1 127.0.0.1 8080 || exit 1

vx_node 1 a <<YAML || exit 1
listen: ["[::]:4242"]
socks: off
log_level: info
user: alice
services:
  - name: web
    target: 127.0.0.1:8080
xdp:
  interface: e0
  mode: native
  udp_rate: $RATE
  udp_burst: $BURST
YAML

# xj FILE EXPR: a value from a JSON file (python expression on j)
xj() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
xsnap() { vx_ctl a ebpf status --json >"$VX_TMP/$1.json"; }
dropped() { xj "$VX_TMP/$1.json" 'j["dropped"]["rate"]["packets"] + j["dropped"]["blocked"]["packets"]'; }
passed() { xj "$VX_TMP/$1.json" "j['passed']['$2']['packets']"; }

xsnap st0
if [ "$(xj "$VX_TMP/st0.json" 'j["attached"]')" != True ]; then
    # Native refused (or no XDP at all): generic tells which.
    why=$(xj "$VX_TMP/st0.json" 'j.get("reason")')
    if ! vx_ctl a ebpf attach e0 --mode generic >"$VX_TMP/gen.out" 2>&1; then
        gen=$(cat "$VX_TMP/gen.out")
        case $gen in
        *"without XDP support"* | *"cannot run XDP"* | *CAP_BPF* | *"cannot load the XDP program"*)
            vx_skip "no XDP here: native: $why; generic: $gen" ;;
        esac
        echo "FAIL: generic XDP attach: $gen (native: $why)"
        exit 1
    fi
    echo "note: native XDP refused on veth ($why): both rounds in generic mode"
    NATIVE=0
else
    NATIVE=1
fi

# flood_start NAME ARGS...: vx6-udpblast from ns 2 at A's node port (at most
# 120 s); returns once the first datagrams are out.  Sets FLOOD_PID.
flood_start() {
    local name=$1
    shift
    vx_bg 2 "$BLAST" send "$A_IP" 4242 120 64 --pps "$FLOOD_PPS" "$@" \
        >"$VX_TMP/$name.sent" 2>"$VX_TMP/$name.err"
    FLOOD_PID=${VX_PIDS[-1]}
    retry 5 grep -q sending "$VX_TMP/$name.err"
}

resolved_fresh() { # NODE: alice.web.vx6 found through the DHT (not the cache)
    vx_ctl "$1" resolve alice.web.vx6 >"$VX_TMP/$1.resolve" 2>&1 &&
        grep -q "endpoint:  \[$A_IP\]:4242" "$VX_TMP/$1.resolve" &&
        grep -q "found: *DHT:" "$VX_TMP/$1.resolve"
}
fetch() { # NS
    nsx "$1" curl -s -m 10 --socks5-hostname 127.0.0.1:1080 http://alice.web.vx6/ |
        grep -q "hello from alice under flood"
}
fetch_big() { # NS: 2 MB, intact
    [ "$(nsx "$1" curl -s -m 20 --socks5-hostname 127.0.0.1:1080 http://alice.web.vx6/big.bin |
        sha256sum)" = "$BIG_SUM" ]
}
drops_climb() { # the counter moves between two reads 0.5 s apart
    xsnap climb1
    sleep 0.5
    xsnap climb2
    [ "$(dropped climb2)" -gt "$(dropped climb1)" ]
}
quiet() { "$@" >/dev/null 2>&1; }
cpu_ms() { # PID: user + system CPU time so far, in ms
    awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# round MODE NS NODE FLOOD-KIND [--dht]
round() {
    local mode=$1 ns=$2 node=$3 kind=$4 t0 t1 sent secs d0 d1 flood_class other_class cpu0 cpu1
    shift 4
    local c_ip
    c_ip=$(vx_ip48 "$ns")
    if [ "$kind" = dht ]; then flood_class=dht other_class=quic; else flood_class=quic other_class=dht; fi
    xsnap "$node-0"
    check "$mode: XDP attached to e0 in $mode mode" \
        [ "$(xj "$VX_TMP/$node-0.json" 'j["attached"], j["mode"]')" = "True $mode" ]
    check "$mode: ip link shows the program on e0" \
        bash -c "ip -n $VXP-1 link show e0 | grep -q 'prog/xdp'"
    check "$mode: flood ($kind, $FLOOD_PPS/s) from $B_IP started" flood_start "flood-$mode" "$@"
    cpu0=$(cpu_ms "$NODE_PID_a")
    sleep 1 # the flood is well under way before the legitimate node exists
    t0=$(date +%s.%N)
    check "$mode: legitimate node $node ($c_ip) starts during the flood" vx_node "$ns" "$node" <<YAML
listen: ["[::]:4242"]
socks: 127.0.0.1:1080
log_level: info
bootstrap: ["[$A_IP]:4242"]
YAML
    check "$mode: the flood is still on" kill -0 "$FLOOD_PID"
    check "$mode: $node resolves alice.web.vx6 through the DHT under flood" \
        retry 20 resolved_fresh "$node"
    sed 's/^/    /' "$VX_TMP/$node.resolve"
    check "$mode: $node fetches http://alice.web.vx6/ through its SOCKS port" retry 10 fetch "$ns"
    check "$mode: and 2 MB intact" fetch_big "$ns"
    t1=$(date +%s.%N)
    echo "    resolve + connect under flood: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
    check "$mode: the flooder was still sending after the connect" kill -0 "$FLOOD_PID"
    check "$mode: and XDP was still dropping it" drops_climb
    kill -INT "$FLOOD_PID"
    cpu1=$(cpu_ms "$NODE_PID_a")
    wait "$FLOOD_PID" 2>/dev/null
    read -r sent secs _ <"$VX_TMP/flood-$mode.sent"
    sleep 0.3
    xsnap "$node-1"
    vx_ctl a status --json >"$VX_TMP/$node-status.json"
    d0=$(dropped "$node-0") d1=$(dropped "$node-1")
    local drops=$((d1 - d0)) fpass=$(($(passed "$node-1" "$flood_class") - $(passed "$node-0" "$flood_class")))
    local cpass=$(($(passed "$node-1" "$other_class") - $(passed "$node-0" "$other_class")))
    local allowed
    allowed=$(awk -v b=$BURST -v r=$RATE -v s="$secs" 'BEGIN { printf "%d", b + r * s }')
    echo "    passed during the round:" $(python3 -c "import json,sys
a, b = (json.load(open(f))['passed'] for f in sys.argv[1:])
print(' '.join('%s +%d' % (k, b[k]['packets'] - a[k]['packets']) for k in b))" \
        "$VX_TMP/$node-0.json" "$VX_TMP/$node-1.json")
    echo "    flood: $sent datagrams in $secs s; XDP dropped $drops, passed $fpass as $flood_class;" \
        "$node: $cpass $other_class passed; vx6d on A used $((cpu1 - cpu0)) ms CPU meanwhile"
    check "$mode: the flood was heavy (>= $((FLOOD_PPS / 2))/s)" ge "$sent" "$(awk -v s="$secs" -v p=$FLOOD_PPS 'BEGIN { print s * p / 2 }')"
    check "$mode: flood dropped in XDP: $drops >= sent - burst - rate x secs - 2% ($sent - $allowed)" \
        ge "$drops" "$(awk -v n="$sent" -v a="$allowed" 'BEGIN { print n - a - n * 0.02 }')"
    check "$mode: nothing dropped but the flood ($drops <= $sent)" ge "$sent" "$drops"
    check "$mode: the drops are the per-source rate limit" \
        [ "$(xj "$VX_TMP/$node-1.json" 'j["dropped"]["rate"]["packets"]')" -gt "$(xj "$VX_TMP/$node-0.json" 'j["dropped"]["rate"]["packets"]')" ]
    # The flood's class also holds the legitimate node's packets of that
    # class (a few dozen): allow 5%.
    check "$mode: the flooder held to its rate ($fpass $flood_class passed <= $allowed + 5%)" \
        ge "$((allowed + allowed / 20))" "$fpass"
    check "$mode: $node's $other_class traffic passed XDP ($cpass packets)" [ "$cpass" -gt 0 ]
    check "$mode: $node's prefix is not blocked" \
        [ "$(xj "$VX_TMP/$node-1.json" "sum(1 for e in j['blocklist'] if e['prefix'].startswith('fd00:$ns:'))")" = 0 ]
    check "$mode: vx6 status --json shows the drops too" \
        ge "$(xj "$VX_TMP/$node-status.json" 'j["xdp"]["dropped"]["rate"]["packets"]')" \
        "$(xj "$VX_TMP/$node-1.json" 'j["dropped"]["rate"]["packets"]')"
    check "$mode: vx6d on A still answers" quiet vx_ctl a status
}

if [ $NATIVE = 1 ]; then
    round native 3 c1 junk
else
    round generic 3 c1 junk
fi

vx_ctl c1 stop >/dev/null # from here on, A's QUIC packets are C2's alone
vx_ctl a ebpf detach >/dev/null
check "detach: no program on e0" bash -c "! ip -n $VXP-1 link show e0 | grep -q xdp"
vx_ctl a ebpf attach e0 --mode generic >/dev/null
xsnap gen
check "vx6 ebpf attach e0 --mode generic keeps the configured rate" \
    [ "$(xj "$VX_TMP/gen.json" 'j["udp_rate"], j["udp_burst"]')" = "$RATE $BURST" ]
round generic 4 c2 dht --dht

vx_ctl a ebpf detach >/dev/null
check "detach: no program left on e0" bash -c "! ip -n $VXP-1 link show e0 | grep -q xdp"
check "after detach ebpf status says not attached" \
    bash -c "vx6() { '$VX_BLD/vx6' -s '$VX_TMP/a.sock' \"\$@\"; }; vx6 ebpf status --json | grep -q '\"attached\":false'"
vx_finish

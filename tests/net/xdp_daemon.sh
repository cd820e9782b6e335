#!/usr/bin/env bash
# xdp_daemon.sh — vx6d with `xdp:` configured on its veth (generic mode).
#
#   B (client, fd00:7:0:b::2) ---- veth ---- A (vx6d, fd00:7:0:a::1, XDP on a0)
#
# Checks: vx6d attaches at start; DHT/QUIC/TCP traffic from B is counted per
# class in `vx6 ebpf status --json`, `vx6 status` and the metrics endpoint;
# `vx6 ebpf detach` leaves no program on a0 (ip link); `vx6 ebpf attach`
# puts it back; SIGTERM detaches; without CAP_NET_ADMIN/CAP_BPF or with a
# missing interface vx6d says why and runs on; a peer hammering the node
# port with bad handshakes is blocked in XDP (when vx6d has a transport).
. "$(dirname "$0")/lib.sh"
D=$VX_BLD/vx6d V=$VX_BLD/vx6 PY=$VX_SRC/tests/net/vx6udp.py
PORT=4242

vx_require_root
command -v python3 >/dev/null || vx_skip "python3 not installed"
command -v curl >/dev/null || vx_skip "curl not installed"
for b in "$D" "$V"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done

A=$VXP-a B=$VXP-b
tmp=$VX_TMP

pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# jget FILE EXPR: a value from a JSON document (python expression on j)
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
has_prog() { ip -n $A link show a0 | grep -q "prog/xdp"; }

ip netns add $A
ip netns add $B
VX_NS+=("$A" "$B")
ip -n $A link add a0 type veth peer name b0 netns $B
for n in $A $B; do ip -n $n link set lo up; done
ip -n $A link set a0 up
ip -n $B link set b0 up
ip -n $A addr add fd00:7:0:a::1/48 dev a0 nodad
ip -n $B addr add fd00:7:0:b::2/48 dev b0 nodad
ip -n $A addr add 10.77.0.1/24 dev a0
ip -n $B addr add 10.77.0.2/24 dev b0

SOCK=$tmp/ctl.sock MPORT=9106
cat >"$tmp/vx6.yaml" <<YAML
data_dir: $tmp/data
control_socket: $SOCK
listen: ["[fd00:7:0:a::1]:$PORT"]
socks: off
metrics: 127.0.0.1:$MPORT
xdp:
  interface: a0
  mode: generic
  udp_rate: 1000
  udp_burst: 2000
YAML

check "vx6d starts" vx_vx6d $A "$tmp/vx6.yaml" "$tmp/vx6d.log"
check "the classifier is attached to a0 (ip link)" has_prog
"$V" -s $SOCK ebpf status --json >"$tmp/st0.json"
check "ebpf status: attached, generic, a0" \
    [ "$(jget "$tmp/st0.json" 'j["attached"], j["mode"], j["interface"]')" = "True generic a0" ]
check "ebpf status: node port $PORT, udp 1000/2000 from the config" \
    [ "$(jget "$tmp/st0.json" 'j["node_port"], j["udp_rate"], j["udp_burst"]')" = "$PORT 1000 2000" ]
pid_a=$(jget "$tmp/st0.json" 'j["program_id"]')
check "ebpf status: program id $pid_a is the one on a0" \
    sh -c "ip -n $A link show a0 | grep -q 'prog/xdp id $pid_a '"

# Traffic from B: 20 DHT and 10 QUIC datagrams, 5 TCP connects, 3 short.
nsx $B python3 "$PY" send fd00:7:0:a::1 $PORT dht 20
nsx $B python3 "$PY" send fd00:7:0:a::1 $PORT quic 10
nsx $B python3 "$PY" send fd00:7:0:a::1 $PORT short 3
for _ in 1 2 3 4 5; do nsx $B python3 "$PY" tcp fd00:7:0:a::1 $PORT >/dev/null 2>&1; done
sleep 0.2
"$V" -s $SOCK ebpf status --json >"$tmp/st1.json"
check "counted: dht 20" [ "$(jget "$tmp/st1.json" 'j["passed"]["dht"]["packets"]')" -eq 20 ]
check "counted: quic 10" [ "$(jget "$tmp/st1.json" 'j["passed"]["quic"]["packets"]')" -eq 10 ]
check "counted: tcp >= 5" [ "$(jget "$tmp/st1.json" 'j["passed"]["tcp"]["packets"]')" -ge 5 ]
check "dropped: short 3" [ "$(jget "$tmp/st1.json" 'j["dropped"]["short"]["packets"]')" -eq 3 ]
"$V" -s $SOCK ebpf status >"$tmp/st1.txt"
check "ebpf status (text) shows the counters" grep -q "dht 20" "$tmp/st1.txt"
"$V" -s $SOCK status --json >"$tmp/status.json"
check "vx6 status --json has the xdp section" \
    [ "$(jget "$tmp/status.json" 'j["xdp"]["passed"]["dht"]["packets"]')" -eq 20 ]
check "vx6 status (text) has the xdp line" sh -c "'$V' -s $SOCK status | grep -q '^xdp: .*a0, generic mode'"
nsx $A curl -s "http://127.0.0.1:$MPORT/metrics" >"$tmp/metrics.txt"
check "metrics: vx6_xdp_passed_packets_total{class=\"dht\"} 20" \
    grep -q '^vx6_xdp_passed_packets_total{class="dht"} 20$' "$tmp/metrics.txt"
check "metrics: vx6_xdp_attached 1" grep -q '^vx6_xdp_attached 1$' "$tmp/metrics.txt"

# Bad handshakes: only with a transport listening on the node port.  The
# plain TCP connects above closed without a byte: not counted (health checks
# and port probes are not handshake failures).
if nsx $A bash -c "exec 3<>/dev/tcp/fd00:7:0:a::1/$PORT" 2>/dev/null; then
    cat >"$tmp/hammer.py" <<'PY'
import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
done = 0
for i in range(n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((addr, port))
    except OSError:
        s.close()
        continue
    try:
        s.sendall(b"\x00\xffnot a noise handshake" * 8)
        s.recv(100)  # until vx6d closes it (EOF or reset)
    except OSError:
        pass
    done += 1
    s.close()
print(done)
PY
    got=$(nsx $B python3 "$tmp/hammer.py" fd00:7:0:a::1 $PORT 12)
    check "hammer: 10 bad handshakes got through, then B was cut off ($got of 12)" [ "$got" -eq 10 ]
    sleep 0.3
    "$V" -s $SOCK ebpf status --json >"$tmp/st2.json"
    check "B's /64 is on the blocklist" \
        [ "$(jget "$tmp/st2.json" '",".join(e["prefix"] for e in j["blocklist"])')" = "fd00:7:0:b::/64" ]
    check "the block expires in about 10 minutes" \
        [ "$(jget "$tmp/st2.json" 'j["blocklist"][0]["expires_s"]')" -gt 580 ]
    check "B can no longer connect (SYNs dropped)" \
        [ "$(nsx $B timeout 5 python3 "$PY" tcp fd00:7:0:a::1 $PORT >/dev/null 2>&1; echo $?)" -ne 0 ]
    "$V" -s $SOCK ebpf status --json >"$tmp/st3.json"
    check "dropped: blocked > 0" [ "$(jget "$tmp/st3.json" 'j["dropped"]["blocked"]["packets"]')" -gt 0 ]
    nsx $A curl -s "http://127.0.0.1:$MPORT/metrics" >"$tmp/metrics2.txt"
    check "metrics: vx6_xdp_autoblocks_total 1" grep -q '^vx6_xdp_autoblocks_total 1$' "$tmp/metrics2.txt"
    check "metrics: vx6_errors_total{reason=\"handshake\"} >= 10" \
        awk '/^vx6_errors_total\{reason="handshake"\}/ { exit !($2 >= 10) } END { }' "$tmp/metrics2.txt"
else
    echo "skip - bad-handshake blocking: this vx6d has no transport module yet (node listener inactive)"
fi

# Detach and attach over the control socket.
"$V" -s $SOCK ebpf detach >"$tmp/detach.txt"
check "ebpf detach: reports a0" grep -q "detached from a0" "$tmp/detach.txt"
check "ebpf detach: no program left on a0" sh -c "! ip -n $A link show a0 | grep -q xdp"
"$V" -s $SOCK ebpf status --json >"$tmp/st4.json"
check "ebpf status after detach: attached false" [ "$(jget "$tmp/st4.json" 'j["attached"]')" = "False" ]
check "ebpf detach again: error" sh -c "! '$V' -s $SOCK ebpf detach 2>/dev/null"
"$V" -s $SOCK ebpf attach a0 --mode generic --json >"$tmp/st5.json"
check "ebpf attach a0 --mode generic: attached" [ "$(jget "$tmp/st5.json" 'j["attached"]')" = "True" ]
check "ebpf attach: program back on a0" has_prog
check "ebpf attach nosuch0: fails with the reason" \
    sh -c "'$V' -s $SOCK ebpf attach nosuch0 --mode generic 2>&1 | grep -q 'no such interface'"
check "ebpf attach --mode bogus: usage error" \
    sh -c "'$V' -s $SOCK ebpf attach a0 --mode bogus 2>/dev/null; [ \$? -eq 2 ]"

# SIGTERM detaches.
kill -TERM $VX_PID
wait $VX_PID
check "vx6d exits 0" [ $? -eq 0 ]
check "after SIGTERM: no program left on a0" sh -c "! ip -n $A link show a0 | grep -q xdp"

# Without the capabilities: vx6d says why and runs on.
sed -e "s|^metrics:.*|metrics: off|" "$tmp/vx6.yaml" >"$tmp/nocap.yaml"
if setpriv --bounding-set=-net_admin,-bpf,-sys_admin true 2>/dev/null; then
    check "without CAP_NET_ADMIN/CAP_BPF: vx6d starts" vx_vx6d $A "$tmp/nocap.yaml" "$tmp/nocap.log" \
        setpriv --bounding-set=-net_admin,-bpf,-sys_admin --inh-caps=-net_admin,-bpf,-sys_admin
    "$V" -s $SOCK ebpf status --json >"$tmp/st6.json"
    check "without caps: ebpf status says CAP_NET_ADMIN and CAP_BPF" \
        sh -c "jq -r . '$tmp/st6.json' 2>/dev/null | grep -q 'CAP_NET_ADMIN' || grep -q CAP_NET_ADMIN '$tmp/st6.json'"
    check "without caps: the log says vx6d runs without it" grep -q "runs without it" "$tmp/nocap.log"
    check "without caps: nothing attached" sh -c "! ip -n $A link show a0 | grep -q xdp"
    kill -TERM $VX_PID; wait $VX_PID
else
    echo "skip - setpriv cannot drop capabilities here"
fi

# A missing interface: same.
sed -e "s|interface: a0|interface: nosuch0|" "$tmp/nocap.yaml" >"$tmp/noif.yaml"
check "missing interface: vx6d starts" vx_vx6d $A "$tmp/noif.yaml" "$tmp/noif.log"
"$V" -s $SOCK status >"$tmp/noif.txt"
check "missing interface: vx6 status says no such interface" grep -q "^xdp: .*no such interface" "$tmp/noif.txt"
kill -TERM $VX_PID; wait $VX_PID

# Native mode on a veth without a program on the peer may or may not work;
# when the kernel refuses, the reason suggests generic mode.
sed -e "s|mode: generic|mode: native|" "$tmp/nocap.yaml" >"$tmp/native.yaml"
check "native mode: vx6d starts" vx_vx6d $A "$tmp/native.yaml" "$tmp/native.log"
"$V" -s $SOCK ebpf status --json >"$tmp/st7.json"
if [ "$(jget "$tmp/st7.json" 'j["attached"]')" = "True" ]; then
    check "native mode: attached in native mode" [ "$(jget "$tmp/st7.json" 'j["mode"]')" = "native" ]
else
    check "native mode refused: reason suggests generic" grep -q "generic" "$tmp/st7.json"
fi
kill -TERM $VX_PID; wait $VX_PID
check "native mode: detached on stop" sh -c "! ip -n $A link show a0 | grep -q xdp"

echo "# $pass passed, $fail failed"
if [ $fail -ne 0 ]; then
    for f in "$tmp"/*.log; do echo "--- $f"; cat "$f"; done
    exit 1
fi
exit 0

#!/bin/bash
# relay.sh — onion-layered relay circuits between 8 nodes in network namespaces.
#
# Nodes n0..n7 hang off one bridge (in its own namespace); node i is
# 10.(i+1).0.1/8, so every node is in a different /16 and relay selection's
# diversity rule is on.  n0 is the client, n7 publishes "web" (python3
# http.server) and "ssh" (sshd); n1..n6 relay.  The client node's local
# forwards carry each TCP connection over a fresh circuit (tests/tools/
# vx6-relay-node).  Checks: curl through 3- and 5-hop circuits, ssh through a
# 3-hop circuit, a marker string never visible on any relay's link (raw
# AF_PACKET captures), and 100 connections while relays are killed and
# frozen during setup (failover keeps the success rate high).
set -u
B=${VX6_BUILDDIR:-.}
S=${VX6_SRCDIR:-.}
NODE=$B/tests/tools/vx6-relay-node
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
ip netns add vx6probe$$ 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del vx6probe$$
P=vx6r$$
W=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    for i in 0 1 2 3 4 5 6 7; do ip netns del ${P}n$i 2>/dev/null; done
    ip netns del ${P}br 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ns() { local n=$1; shift; ip netns exec ${P}n$n "$@"; }
# for `nsbg N cmd &`: the background subshell becomes the command, so $! is
# the command itself (kill, STOP and CONT reach it; nothing outlives cleanup)
nsbg() { local n=$1; shift; exec ip netns exec ${P}n$n "$@"; }

ip netns add ${P}br
ip -n ${P}br link add br0 type bridge
ip -n ${P}br link set br0 up
for i in 0 1 2 3 4 5 6 7; do
    ip netns add ${P}n$i
    ip link add v$i netns ${P}n$i type veth peer name b$i netns ${P}br
    ip -n ${P}br link set b$i master br0
    ip -n ${P}br link set b$i up
    ip -n ${P}n$i link set lo up
    ip -n ${P}n$i addr add 10.$((i + 1)).0.1/8 dev v$i
    ip -n ${P}n$i link set v$i up
    echo "$((10 + i)) 10.$((i + 1)).0.1:4242" >> "$W/peers"
done

# destination services: a web root with a marker, and sshd
MARK="VX6-PLAINTEXT-MARKER-$$-$RANDOM"
mkdir -p "$W/www"
echo "$MARK" > "$W/www/marker.txt"
head -c 3000000 /dev/urandom | base64 > "$W/www/big.txt"
echo "$MARK" >> "$W/www/big.txt"
nsbg 7 python3 -m http.server 8080 --bind 127.0.0.1 --directory "$W/www" >/dev/null 2>&1 &
PIDS+=($!)
ssh-keygen -q -t ed25519 -N '' -f "$W/hostkey" && ssh-keygen -q -t ed25519 -N '' -f "$W/clientkey" \
    || fail "ssh-keygen"
cp "$W/clientkey.pub" "$W/authorized_keys"
chmod 600 "$W/authorized_keys"
mkdir -p /run/sshd
nsbg 7 /usr/sbin/sshd -D -e -f /dev/null -o ListenAddress=127.0.0.1:2222 -o HostKey="$W/hostkey" \
    -o AuthorizedKeysFile="$W/authorized_keys" -o StrictModes=no -o PasswordAuthentication=no \
    -o PidFile=none >"$W/sshd.log" 2>&1 &
PIDS+=($!)

start_node() { # index, extra args
    local i=$1; shift
    nsbg $i "$NODE" -n $((10 + i)) -l 10.$((i + 1)).0.1:4242 -p "$W/peers" "$@" >>"$W/node$i.log" 2>&1 &
    NODEPID[$i]=$!
    PIDS+=($!)
}
declare -a NODEPID
start_node 7 -s web=127.0.0.1:8080 -s ssh=127.0.0.1:2222
for i in 1 2 3 4 5 6; do start_node $i; done
start_node 0 -f 1080:17:web:80:3 -f 1081:17:web:80:5 -f 1082:17:ssh:22:3 -f 1083:17:web:80:0
sleep 1

# 1. curl through direct, 3-hop and 5-hop paths
for port in 1083 1080 1081; do
    out=$(ns 0 curl -s --max-time 20 http://127.0.0.1:$port/marker.txt) || fail "curl via $port"
    [ "$out" = "$MARK" ] || fail "curl via $port returned '$out'"
    ns 0 curl -s --max-time 60 -o "$W/big.$port" http://127.0.0.1:$port/big.txt || fail "big via $port"
    cmp -s "$W/big.$port" "$W/www/big.txt" || fail "big file via $port differs"
done
echo "ok: curl through direct, 3-hop and 5-hop circuits (small and 4 MB files)"

# 2. ssh through a 3-hop circuit (ProxyCommand speaks to the circuit forward)
out=$(ns 0 ssh -F /dev/null -i "$W/clientkey" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o BatchMode=yes -o ConnectTimeout=20 -o ProxyCommand='nc 127.0.0.1 1082' -p 22 root@dest \
    'echo vx6-ssh-ok; head -c 100000 /dev/zero | wc -c' 2>"$W/ssh.err") \
    || { cat "$W/ssh.err" "$W/sshd.log"; fail "ssh over a 3-hop circuit"; }
echo "$out" | grep -q vx6-ssh-ok || fail "ssh output: $out"
echo "$out" | grep -q 100000 || fail "ssh output: $out"
echo "ok: ssh through a 3-hop circuit"

# 3. no relay link carries the plaintext: capture every relay's interface
#    while the marker crosses 3- and 5-hop circuits both ways
for i in 1 2 3 4 5 6; do
    nsbg $i python3 "$S/tests/net/capture.py" v$i "$W/cap$i" 30 2>>"$W/cap.log" &
    CAPPID[$i]=$!
done
nsbg 7 python3 "$S/tests/net/capture.py" lo "$W/cap7lo" 30 2>>"$W/cap.log" &
CAPPID[7]=$!
for i in 1 2 3 4 5 6; do
    for t in $(seq 50); do [ -e "$W/cap$i.ready" ] && break; sleep 0.1; done
done
sleep 0.5
for k in 1 2 3 4 5 6; do
    for port in 1080 1081; do
        ns 0 curl -s --max-time 20 -o /dev/null http://127.0.0.1:$port/marker.txt || fail "curl during capture"
        ns 0 curl -s --max-time 20 -o /dev/null -H "X-Mark: $MARK" http://127.0.0.1:$port/nothere \
            || true
    done
done
sleep 0.5
for i in 1 2 3 4 5 6 7; do kill ${CAPPID[$i]}; done
wait ${CAPPID[@]} 2>/dev/null
cat "$W/cap.log"
total=0
for i in 1 2 3 4 5 6; do
    sz=$(stat -c %s "$W/cap$i")
    total=$((total + sz))
    if grep -aq "$MARK" "$W/cap$i"; then fail "relay n$i saw the marker in clear"; fi
done
[ "$total" -gt 100000 ] || fail "relay captures too small ($total bytes): capture did not work"
grep -aq "$MARK" "$W/cap7lo" || fail "capture sanity check: the destination's loopback shows no marker"
echo "ok: marker absent from $total bytes captured on 6 relay links (present on the destination's loopback)"

# 4. failover: 100 connections over 3-hop circuits while relays die and freeze
ok=0
for k in $(seq 100); do
    case $k in
    10) kill -9 ${NODEPID[2]} ;;                 # dies: connection refused
    30) kill -STOP ${NODEPID[4]} ;;              # frozen: setup times out
    50) start_node 2 ;;                          # back
    60) kill -CONT ${NODEPID[4]}; kill -9 ${NODEPID[5]} ;;
    80) kill -STOP ${NODEPID[1]} ;;
    esac
    out=$(ns 0 curl -s --max-time 20 http://127.0.0.1:1080/marker.txt)
    [ "$out" = "$MARK" ] && ok=$((ok + 1))
done
kill -CONT ${NODEPID[1]} 2>/dev/null
echo "failover: $ok/100 connections succeeded while relays were killed or frozen"
[ "$ok" -ge 95 ] || { tail -20 "$W/node0.log"; fail "success rate $ok% < 95%"; }
echo "ok: failover"
kill ${NODEPID[0]}
sleep 0.3
grep -a "circuits ok\|node 10" "$W/node0.log"
exit 0

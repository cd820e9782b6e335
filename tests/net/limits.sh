#!/usr/bin/env bash
# limits.sh — vx6d's configured limits, seen from outside.
#
#   ns A: vx6d publishing `hold` (a local server that accepts and keeps
#         connections open) with limits.max_streams_per_peer: 3 and
#         limits.handshake_timeout: 1s
#   ns B: vx6d with SOCKS on 127.0.0.1:1080 and
#         limits.max_connections_per_client: 6, handshake_timeout: 1s
#
# Checks: a slowloris client on A's node port (one byte every 300 ms) is
# dropped after the handshake timeout; a SOCKS client that never finishes
# its request is dropped after the same timeout; a control-socket client
# that sends nothing is dropped after 5 s; B serves at most 6 concurrent
# connections from one client; a 4th concurrent stream to A is refused
# (SOCKS reply != 0) while 3 stay open; vx6_limit_hits_total counts them.
# Both nodes use the TCP transport: it refuses streams over the peer's
# limit at once (QUIC queues them for stream credit until the open timeout).
. "$(dirname "$0")/lib.sh"
D=$VX_BLD/vx6d V=$VX_BLD/vx6
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
metric() {
    nsx "$1" curl -s --max-time 5 http://127.0.0.1:9106/metrics |
        awk -v k="$2" '$1 == k { v = $2 } END { print v == "" ? 0 : v }'
}
between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

ip netns add $A
ip netns add $B
VX_NS+=("$A" "$B")
ip -n $A link add e0 type veth peer name e0 netns $B
for n in $A $B; do ip -n $n link set lo up; ip -n $n link set e0 up; done
ip -n $A addr add fd00:9::1/64 dev e0 nodad
ip -n $B addr add fd00:9::2/64 dev e0 nodad

# clients.py: the test's clients (standard library only)
cat >"$tmp/clients.py" <<'PY'
import socket, sys, time

# a valid SOCKS5 greeting and the start of a CONNECT to a 64-byte name
SOCKS_SLOW = b"\x05\x01\x00\x05\x01\x00\x03\x40" + b"a" * 64

def slowloris(host, port, gap, limit):
    """Send a valid SOCKS5 request one byte every gap s; print seconds
    until the server closed."""
    s = socket.create_connection((host, port), timeout=5)
    t0 = time.monotonic()
    s.settimeout(gap)
    i = 0
    while time.monotonic() - t0 < limit and i < len(SOCKS_SLOW):
        try:
            s.send(SOCKS_SLOW[i:i + 1])
            i += 1
        except OSError:
            break
        try:
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            pass
        except OSError:
            break
    print("%.2f" % (time.monotonic() - t0))

def silent(path_or_host, port, limit):
    """Connect, send nothing; print seconds until closed."""
    if port == 0:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path_or_host)
    else:
        s = socket.create_connection((path_or_host, port), timeout=5)
    s.settimeout(limit)
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    print("%.2f" % (time.monotonic() - t0))

def socks_open(host, port, name, vport, n, hold):
    """Open n SOCKS5 tunnels at once and keep them; print the reply codes
    (or 'closed'), then hold them for hold s."""
    socks = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"\x05\x01\x00")
        socks.append(s)
    out = []
    for s in socks:
        try:
            if s.recv(2) != b"\x05\x00":
                out.append("closed"); continue
            s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name.encode() + vport.to_bytes(2, "big"))
            r = s.recv(4)
            out.append(str(r[1]) if len(r) >= 2 else "closed")
            while len(r) < 10 and r:
                r += s.recv(10 - len(r))
        except OSError:
            out.append("closed")
    print(" ".join(out), flush=True)
    time.sleep(hold)

def conns(host, port, n, hold):
    """Open n TCP connections; print how many the server closed within
    0.5 s (well before any request timeout)."""
    import select
    socks = [socket.create_connection((host, port), timeout=5) for _ in range(n)]
    closed = set()
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        r, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.05)
        for s in r:
            try:
                if s.recv(1) == b"":
                    closed.add(s)
            except OSError:
                closed.add(s)
    print(len(closed), flush=True)
    time.sleep(hold)

f = sys.argv[1]
a = sys.argv[2:]
if f == "slowloris": slowloris(a[0], int(a[1]), float(a[2]), float(a[3]))
elif f == "silent": silent(a[0], int(a[1]), float(a[2]))
elif f == "socks": socks_open(a[0], int(a[1]), a[2], int(a[3]), int(a[4]), float(a[5]))
elif f == "conns": conns(a[0], int(a[1]), int(a[2]), float(a[3]))
PY
C="python3 $tmp/clients.py"

# the `hold` service: accepts and keeps connections
ip netns exec $A python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7000)); s.listen(64); keep = []
while True:
    c, _ = s.accept(); keep.append(c)
' &
VX_PIDS+=($!)

vx_node $A a <<'YAML' || exit 1
listen: ["[::]:4242"]
transport: tcp
socks: off
metrics: 127.0.0.1:9106
services:
  - name: hold
    target: 127.0.0.1:7000
limits:
  handshake_timeout: 1s
  max_streams_per_peer: 3
YAML
vx_node $B b <<'YAML' || exit 1
listen: ["[::]:4242"]
transport: tcp
socks: 127.0.0.1:1080
metrics: 127.0.0.1:9106
limits:
  handshake_timeout: 1s
  max_connections_per_client: 6
  max_connections: 100
YAML

# --- control socket idle timeout (5 s, built in) ---------------------------
t=$($C silent "$tmp/a.sock" 0 10)
check "control socket: a silent client is dropped after 5 s ($t s)" between "$t" 4.5 7

if ! nsx $A bash -c 'exec 3<>/dev/tcp/fd00:9::1/4242' 2>/dev/null; then
    echo "skip - node port and SOCKS limits: this vx6d has no transport/front-end module yet"
    echo "# $pass passed, $fail failed"
    [ $fail -eq 0 ]
    exit
fi

# --- handshake timeout on the node port ------------------------------------
h0=$(metric $A 'vx6_limit_hits_total{limit="handshake_timeout"}')
t=$(nsx $B $C silent fd00:9::1 4242 10)
check "node port: a client that never completes the handshake is dropped after 1 s ($t s)" \
    between "$t" 0.8 2.5
h1=$(metric $A 'vx6_limit_hits_total{limit="handshake_timeout"}')
check "node port: vx6_limit_hits_total{limit=handshake_timeout} +1 ($h0 -> $h1)" [ $((h1 - h0)) -eq 1 ]

# --- front-end request timeout -----------------------------------------------
t=$(nsx $B $C slowloris 127.0.0.1 1080 0.3 10)
check "SOCKS: a client trickling bytes is dropped after the 1 s request timeout ($t s)" \
    between "$t" 0.8 2.5
t=$(nsx $B $C silent 127.0.0.1 1080 10)
check "SOCKS: a silent client is dropped after 1 s ($t s)" between "$t" 0.8 2.5

# --- connections per client on the front-end ---------------------------------
closed=$(nsx $B $C conns 127.0.0.1 1080 8 0)
check "SOCKS: 8 connections from one client, 2 over the limit of 6 closed ($closed)" [ "$closed" = 2 ]

# --- streams per peer --------------------------------------------------------
s0=$(metric $A 'vx6_limit_hits_total{limit="max_streams_per_peer"}')
ip netns exec $B $C socks 127.0.0.1 1080 hold.fd00-9--1.ipv6.vx6 80 5 3 >"$tmp/socks.out" &
VX_PIDS+=($!)
for _ in $(seq 100); do [ -s "$tmp/socks.out" ] && break; sleep 0.05; done
read -r -a codes <"$tmp/socks.out"
n_ok=0 n_ref=0
for c in "${codes[@]}"; do if [ "$c" = 0 ]; then n_ok=$((n_ok + 1)); else n_ref=$((n_ref + 1)); fi; done
check "streams: 3 of 5 concurrent streams to A open (${codes[*]})" [ $n_ok -eq 3 ]
check "streams: the other 2 refused with a SOCKS error" [ $n_ref -eq 2 ]
s1=$(metric $A 'vx6_limit_hits_total{limit="max_streams_per_peer"}')
b1=$(metric $B 'vx6_limit_hits_total{limit="max_streams_per_peer"}')
# A refuses the first stream over its limit; B then knows the limit and
# refuses further ones itself: both count.
check "vx6_limit_hits_total{limit=max_streams_per_peer}: 2 refusals counted (A +$((s1 - s0)), B $b1)" \
    [ $((s1 - s0 + b1)) -eq 2 ]
check "A: 3 streams open (vx6_streams)" [ "$(metric $A vx6_streams)" = 3 ]

echo "# $pass passed, $fail failed"
if [ $fail -ne 0 ]; then
    for f in "$tmp"/*.log; do echo "--- $f"; tail -30 "$f"; done
    exit 1
fi
exit 0

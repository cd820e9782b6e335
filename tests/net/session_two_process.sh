#!/bin/bash
# session_two_process.sh — two vx6-session-peer processes over loopback: a
# client's bytes go through a dialer, one TCP + Noise session and a listener
# to a target that answers only after the client's half-close.  Checks both
# directions with sha256sum.
set -u
B=${VX6_BUILDDIR:-.}
PEER=$B/tests/tools/vx6-session-peer
command -v python3 >/dev/null || { echo "python3 missing: skip"; exit 77; }
command -v sha256sum >/dev/null || { echo "sha256sum missing: skip"; exit 77; }
[ -x "$PEER" ] || { echo "$PEER not built"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

base=$((20000 + RANDOM % 30000))
NODE=$base TARGET=$((base + 1)) LOCAL=$((base + 2))

head -c $((24 * 1024 * 1024 + 123)) /dev/urandom >"$tmp/up"
head -c $((9 * 1024 * 1024 + 7)) /dev/urandom >"$tmp/down"

# Target: read to EOF, record what arrived, then answer and close.
python3 - "$TARGET" "$tmp/down" "$tmp/target_got" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept()
with open(sys.argv[3], "wb") as f:
    while True:
        b = c.recv(1 << 16)
        if not b: break
        f.write(b)
c.sendall(open(sys.argv[2], "rb").read())
c.close()
PY
pids+=($!)

"$PEER" listen b2 "$NODE" "$TARGET" 2>"$tmp/listen.log" &
pids+=($!)
id=$("$PEER" id b2)
"$PEER" dial a1 "$id" "$NODE" "$LOCAL" 2>"$tmp/dial.log" &
pids+=($!)

# wait until the dialer and the target listen (without connecting to them)
listening() { grep -qi ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }
for i in $(seq 50); do
    listening "$LOCAL" && listening "$TARGET" && listening "$NODE" && break
    sleep 0.1
done

timeout 20 python3 - "$LOCAL" "$tmp/up" "$tmp/client_got" <<'PY'
import socket, sys, threading
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
data = open(sys.argv[2], "rb").read()
out = open(sys.argv[3], "wb")
def rd():
    while True:
        b = c.recv(1 << 16)
        if not b: break
        out.write(b)
t = threading.Thread(target=rd); t.start()
c.sendall(data)
c.shutdown(socket.SHUT_WR)   # half-close: the answer must still arrive
t.join(); out.close()
PY
rc=$?
fail=0
[ $rc -eq 0 ] || { echo "client failed ($rc)"; fail=1; }
sleep 0.2
up=$(sha256sum <"$tmp/up") got=$(sha256sum <"$tmp/target_got" 2>/dev/null)
[ "$up" = "$got" ] || { echo "upstream mismatch"; fail=1; }
down=$(sha256sum <"$tmp/down") got=$(sha256sum <"$tmp/client_got" 2>/dev/null)
[ "$down" = "$got" ] || { echo "downstream mismatch"; fail=1; }
grep -q "established" "$tmp/dial.log" || true
if [ $fail -ne 0 ]; then
    echo "--- dialer log"; cat "$tmp/dial.log"
    echo "--- listener log"; cat "$tmp/listen.log"
    exit 1
fi
echo "ok: 24 MiB up, 9 MiB down through one session, half-close honoured"

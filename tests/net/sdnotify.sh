#!/usr/bin/env bash
# sdnotify.sh — vx6d under a fake systemd: NOTIFY_SOCKET is a python3
# datagram socket that logs each message with its arrival time.  Checks:
# READY=1 arrives and the control socket already answers at that moment;
# STATUS= lines; RELOADING=1 then READY=1 around SIGHUP; WATCHDOG=1 every
# half WATCHDOG_USEC; STOPPING=1 on SIGTERM, then a clean exit.
set -u
B=${VX6_BUILDDIR:-$(pwd)}
D="$B/vx6d" V="$B/vx6"
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
for b in "$D" "$V"; do [ -x "$b" ] || { echo "$b is not built"; exit 1; }; done

tmp=$(mktemp -d /tmp/vx6-sdnotify.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

SOCK="$tmp/control.sock"
cat >"$tmp/vx6.yaml" <<YAML
data_dir: $tmp/data
control_socket: $SOCK
socks: off
listen: ["[::1]:$((20000 + RANDOM % 30000))"]
YAML

# The fake systemd: one line per datagram, "<monotonic s> <msg with | for
# newlines>"; on READY=1 it asks the control socket for status at once and
# logs "CTL ok" or "CTL fail".
cat >"$tmp/notify.py" <<'PY'
import os, socket, sys, time
path, log, ctl = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
out = open(log, "w", buffering=1)
out.write("LISTENING\n")
while True:
    msg = s.recv(4096).decode()
    t = time.monotonic()
    out.write("%.3f %s\n" % (t, msg.replace("\n", "|")))
    if "READY=1" in msg:
        try:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(2)
            c.connect(ctl)
            c.sendall(b"status\n")
            ans = c.recv(3)
            out.write("CTL %s\n" % ("ok" if ans == b"OK\n" else "fail " + repr(ans)))
        except OSError as e:
            out.write("CTL fail %s\n" % e)
PY
python3 "$tmp/notify.py" "$tmp/notify.sock" "$tmp/notify.log" "$SOCK" &
pids+=($!)
for _ in $(seq 100); do grep -q LISTENING "$tmp/notify.log" 2>/dev/null && break; sleep 0.05; done

# wait_for PATTERN [N]: until the log has N lines (default 1) matching PATTERN (5 s)
count() { grep -c -- "$1" "$tmp/notify.log"; }
wait_for() {
    local n=${2:-1}
    for _ in $(seq 100); do
        [ "$(count "$1")" -ge "$n" ] && return 0
        sleep 0.05
    done
    return 1
}

NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=1000000 "$D" -c "$tmp/vx6.yaml" 2>"$tmp/vx6d.log" &
vpid=$!
pids+=($vpid)

check "READY=1 arrives" wait_for "READY=1"
check "the control socket answered when READY=1 arrived" wait_for "^CTL ok"
check "READY=1 carries a STATUS= line" grep -q "READY=1.*STATUS=running" "$tmp/notify.log"

# Watchdog: WATCHDOG_USEC=1 s -> a ping every 0.5 s.  Count pings over 2.6 s.
n0=$(count "WATCHDOG=1")
sleep 2.6
n1=$(count "WATCHDOG=1")
d=$((n1 - n0))
check "watchdog: $d pings in 2.6 s (want 4..6)" [ "$d" -ge 4 ] && [ "$d" -le 6 ]
gaps=$(grep "WATCHDOG=1" "$tmp/notify.log" | awk 'NR>1 {g=$1-p; if (g<0.35||g>0.75) bad++} {p=$1} END {print bad+0}')
check "watchdog: every gap is 0.5 s +- 0.25 ($gaps off)" [ "$gaps" -eq 0 ]

# Reload: RELOADING=1 (with MONOTONIC_USEC), then READY=1 again.
kill -HUP $vpid
check "SIGHUP: RELOADING=1 arrives" wait_for "RELOADING=1"
check "SIGHUP: RELOADING=1 carries MONOTONIC_USEC" grep -q "RELOADING=1.*MONOTONIC_USEC=[0-9]" "$tmp/notify.log"
check "SIGHUP: READY=1 follows RELOADING=1" wait_for "READY=1" 2
order=$(grep -n -e "RELOADING=1" -e "READY=1" "$tmp/notify.log" | cut -d: -f2- | awk '{print $2}' | cut -c1-7 | tr '\n' ' ')
check "order: READY, RELOADING, READY ($order)" [ "$order" = "READY=1 RELOADI READY=1 " ]

# A reload that fails still ends with READY=1 (the old config runs on).
echo "listen: [bad" >>"$tmp/vx6.yaml"
kill -HUP $vpid
check "failed reload: RELOADING=1 again" wait_for "RELOADING=1" 2
check "failed reload: READY=1 again" wait_for "READY=1" 3

# Stop.
kill -TERM $vpid
check "SIGTERM: STOPPING=1 arrives" wait_for "STOPPING=1"
wait $vpid
rc=$?
check "vx6d exits 0 after SIGTERM (rc $rc)" [ $rc -eq 0 ]
check "STOPPING=1 is the last state message" \
    sh -c "grep -v WATCHDOG '$tmp/notify.log' | grep -v '^CTL' | grep -v STATUS=running | tail -1 | grep -q STOPPING=1"

# Without NOTIFY_SOCKET nothing is sent and vx6d runs as before.
sed -i '$d' "$tmp/vx6.yaml"
: >"$tmp/notify.log"
"$D" -c "$tmp/vx6.yaml" 2>>"$tmp/vx6d.log" &
vpid=$!
pids+=($vpid)
for _ in $(seq 100); do "$V" -s "$SOCK" status >/dev/null 2>&1 && break; sleep 0.05; done
check "without NOTIFY_SOCKET: status answers" sh -c "'$V' -s '$SOCK' status >/dev/null"
kill -TERM $vpid
wait $vpid
check "without NOTIFY_SOCKET: no message sent" [ ! -s "$tmp/notify.log" ]

echo "# $pass passed, $fail failed"
if [ $fail -ne 0 ]; then
    echo "--- notify log"; cat "$tmp/notify.log"; echo "--- vx6d log"; cat "$tmp/vx6d.log"
    exit 1
fi
exit 0

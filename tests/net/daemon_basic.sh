#!/usr/bin/env bash
# daemon_basic.sh — vx6d and vx6 end to end on a temporary data dir and
# control socket: start with and without a config file, status/id/json,
# --check-config diagnostics, unsafe and corrupt identity keys, SIGHUP with a
# broken config, SIGTERM, stale and live sockets, keygen.  Runs as any user.
set -u
B=${VX6_BUILDDIR:-$(pwd)}
D="$B/vx6d" V="$B/vx6"
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
for b in "$D" "$V"; do [ -x "$b" ] || { echo "$b is not built"; exit 1; }; done

tmp=$(mktemp -d /tmp/vx6d-test.XXXXXX)
chmod 755 "$tmp"
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

# wait_status SOCKET: until `vx6 status` answers (5 s)
wait_status() {
    for _ in $(seq 100); do
        "$V" -s "$1" status >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
# wait_gone PID MS: until PID exits
wait_gone() {
    for _ in $(seq $(( $2 / 20 ))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.02
    done
    return 1
}

SOCK="$tmp/run/control.sock"
DATA="$tmp/data"
cat >"$tmp/vx6.yaml" <<YAML
data_dir: $DATA
control_socket: $SOCK
log_level: info
YAML

# --- --check-config ---------------------------------------------------------
out=$("$D" --check-config -c "$tmp/vx6.yaml" 2>&1)
check "check-config: good file -> 0 ($out)" [ $? -eq 0 ]
check "check-config: says configuration OK" grep -q "configuration OK" <<<"$out"
"$D" --check-config -v -c "$tmp/vx6.yaml" >"$tmp/dump" 2>&1
check "check-config -v: dumps the effective config" grep -q "^control_socket: .*control.sock" "$tmp/dump"
printf 'log_level: info\nlisten:\n  - "127.0.0.1:99999"\n' >"$tmp/bad.yaml"
out=$("$D" --check-config -c "$tmp/bad.yaml" 2>&1)
rc=$?
check "check-config: bad file -> 1 (rc=$rc)" [ $rc -eq 1 ]
check "check-config: file:line:col ($out)" grep -Eq "bad.yaml:3:[0-9]+: " <<<"$out"
"$D" --check-config -c "$tmp/nonexistent.yaml" 2>/dev/null
check "check-config: missing file -> 1" [ $? -eq 1 ]
"$D" --bogus 2>/dev/null
check "bad option -> 2" [ $? -eq 2 ]
check "--version" grep -q "^vx6d " <<<"$("$D" --version)"

# --- start with a config file ----------------------------------------------------
"$D" -c "$tmp/vx6.yaml" 2>"$tmp/d1.log" &
dpid=$!
pids+=($dpid)
check "vx6d starts and answers" wait_status "$SOCK"
check "data dir is 0700" [ "$(stat -c %a "$DATA")" = 700 ]
check "identity key is 0600" [ "$(stat -c %a "$DATA/identity.key")" = 600 ]
check "control socket is 0600" [ "$(stat -c %a "$SOCK")" = 600 ]
check "socket dir is 0700" [ "$(stat -c %a "$tmp/run")" = 700 ]
"$V" -s "$SOCK" status --json >"$tmp/status.json"
check "status --json is valid JSON" python3 -m json.tool "$tmp/status.json" >/dev/null
"$V" --json -s "$SOCK" status >"$tmp/status2.json"
check "--json before the command too" python3 -m json.tool "$tmp/status2.json" >/dev/null
nid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["node_id"])' "$tmp/status.json")
check "status has the node ID" [ ${#nid} -eq 52 ]
check "startup summary logs the node ID" grep -q "node ID $nid" "$tmp/d1.log"
check "status text shows the config file" grep -q "config: *$tmp/vx6.yaml" <<<"$("$V" -s "$SOCK" status)"
check "-c FILE finds the socket" "$V" -c "$tmp/vx6.yaml" status >/dev/null
a=$("$V" -s "$SOCK" id)
b=$("$V" id --key "$DATA/identity.key")
check "vx6 id == vx6 id --key FILE" [ "$a" = "$b" ]
a=$("$V" -s "$SOCK" id --json)
b=$("$V" id --json --key "$DATA/identity.key")
check "vx6 id --json == vx6 id --json --key FILE" [ "$a" = "$b" ]
check "id shows the status node ID" grep -q "$nid" <<<"$a"
"$V" -s "$SOCK" loglevel "info,dht=debug" >/dev/null
check "loglevel SPEC changes the level" grep -q '"log_level":"info,dht=debug"' <<<"$("$V" -s "$SOCK" --json status)"
"$V" -s "$SOCK" loglevel "nonsense" 2>"$tmp/err"
check "loglevel: bad spec -> 1" [ $? -eq 1 ]
check "loglevel: bad spec message" grep -q "invalid log level 'nonsense'" "$tmp/err"
"$V" -s "$SOCK" frobnicate 2>"$tmp/err"
check "unknown command -> 2" [ $? -eq 2 ]
check "unknown command message" grep -q "unknown command 'frobnicate'" "$tmp/err"
# a raw bad request gets an error answer and the daemon survives
resp=$(python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'nosuch "unterminated\n'); print(s.recv(4096).decode().strip())
PY
)
check "raw bad request answered ($resp)" grep -q "^ERR VX_ERR_INVAL bad request" <<<"$resp"
check "daemon alive after bad request" "$V" -s "$SOCK" status >/dev/null

# a second daemon on the same socket refuses to start
"$D" -c "$tmp/vx6.yaml" 2>"$tmp/d2.log"
check "second daemon -> 1" [ $? -eq 1 ]
check "second daemon says why" grep -q "another vx6d is running" "$tmp/d2.log"
check "first daemon still answers" "$V" -s "$SOCK" status >/dev/null

# --- SIGHUP with a broken config keeps the old one ----------------------------------
cp "$tmp/vx6.yaml" "$tmp/vx6.yaml.good"
printf 'log_level: [oops\n' >>"$tmp/vx6.yaml"
kill -HUP $dpid
sleep 0.3
check "SIGHUP broken: daemon running" kill -0 $dpid
check "SIGHUP broken: still answers" "$V" -s "$SOCK" status >/dev/null
check "SIGHUP broken: error logged with position" grep -Eq "reload failed|vx6.yaml:[0-9]+:[0-9]+" "$tmp/d1.log"
"$V" -s "$SOCK" reload 2>"$tmp/err"
check "vx6 reload broken -> 1" [ $? -eq 1 ]
check "vx6 reload broken: message" grep -q "running configuration kept" "$tmp/err"
sed 's/log_level: info/log_level: notice/' "$tmp/vx6.yaml.good" >"$tmp/vx6.yaml"
kill -HUP $dpid
sleep 0.3
check "SIGHUP good: change logged" grep -q "log_level changed from 'info' to 'notice'" "$tmp/d1.log"
check "SIGHUP good: new level in force" grep -q '"log_level":"notice"' <<<"$("$V" -s "$SOCK" --json status)"

# --- SIGTERM ------------------------------------------------------------------------
kill -TERM $dpid
check "SIGTERM: stopped within 2 s" wait_gone $dpid 2000
wait $dpid
check "SIGTERM: exit 0 (rc=$?)" true
check "SIGTERM: socket removed" [ ! -e "$SOCK" ]
"$V" -s "$SOCK" status 2>"$tmp/err"
check "not running -> 1" [ $? -eq 1 ]
check "not running message" grep -q "cannot connect to vx6d at $SOCK: No such file or directory (is vx6d running?)" "$tmp/err"

# --- stale socket from a crashed daemon is replaced --------------------------------------
"$D" -c "$tmp/vx6.yaml" 2>"$tmp/d3.log" &
dpid=$!
pids+=($dpid)
wait_status "$SOCK"
{ kill -9 $dpid; wait $dpid; } 2>/dev/null
check "crash leaves the socket" [ -S "$SOCK" ]
"$D" -c "$tmp/vx6.yaml" 2>"$tmp/d4.log" &
dpid=$!
pids+=($dpid)
check "restart over a stale socket" wait_status "$SOCK"
check "identity kept across restarts" grep -q "$nid" <<<"$("$V" -s "$SOCK" id)"
"$V" -s "$SOCK" stop >/dev/null
check "vx6 stop: stopped" wait_gone $dpid 2000

# --- unsafe and corrupt identity keys stop the daemon, untouched --------------------
for kind in readable corrupt; do
    kd="$tmp/key-$kind"
    mkdir -m 700 "$kd"
    "$V" keygen -o "$kd/identity.key" >/dev/null 2>&1
    if [ $kind = readable ]; then
        chmod 644 "$kd/identity.key"
        want="chmod 600 $kd/identity.key"
    else
        printf 'vx6-ed25519-v1:nothex\n' >"$kd/identity.key"
        want="identity key $kd/identity.key is damaged"
    fi
    sum=$(sha256sum "$kd/identity.key")
    mode=$(stat -c %a "$kd/identity.key")
    printf 'data_dir: %s\ncontrol_socket: %s\n' "$kd" "$kd/ctl.sock" >"$kd/c.yaml"
    timeout 5 "$D" -c "$kd/c.yaml" 2>"$kd/log"
    rc=$?
    check "$kind key: vx6d exits 1 (rc=$rc)" [ $rc -eq 1 ]
    check "$kind key: message names the file and fix" grep -qF "$want" "$kd/log"
    check "$kind key: file unchanged" [ "$(sha256sum "$kd/identity.key")" = "$sum" ]
    check "$kind key: mode unchanged" [ "$(stat -c %a "$kd/identity.key")" = "$mode" ]
    check "$kind key: no socket left" [ ! -e "$kd/ctl.sock" ]
done

# --- keygen ----------------------------------------------------------------------------
out=$("$V" keygen -o "$tmp/k1" 2>/dev/null)
check "keygen prints the node ID" grep -Eq "^node ID: +[a-z2-7]{52}$" <<<"$out"
check "keygen writes 0600" [ "$(stat -c %a "$tmp/k1")" = 600 ]
sum=$(sha256sum "$tmp/k1")
"$V" keygen -o "$tmp/k1" 2>"$tmp/err"
check "keygen refuses to overwrite -> 1" [ $? -eq 1 ]
check "keygen refusal message" grep -q "already exists; not overwriting" "$tmp/err"
check "keygen left the file alone" [ "$(sha256sum "$tmp/k1")" = "$sum" ]
"$V" keygen -o "$tmp/k1" --force >/dev/null 2>&1
check "keygen --force replaces" [ "$(sha256sum "$tmp/k1")" != "$sum" ]
check "keygen --json" python3 -m json.tool <<<"$("$V" keygen --json -o "$tmp/k2")" >/dev/null

# --- no config file: built-in defaults ---------------------------------------------------
if [ -e /etc/vx6/vx6.yaml ]; then
    echo "skip - no-config start: /etc/vx6/vx6.yaml exists on this machine"
elif [ "$(id -u)" = 0 ] && ! command -v setpriv >/dev/null; then
    echo "skip - no-config start as root needs setpriv (util-linux)"
else
    home="$tmp/home" xdg="$tmp/xdg"
    mkdir -p "$home" "$xdg"
    runas=()
    if [ "$(id -u)" = 0 ]; then
        # as root the defaults are /var/lib/vx6 and /run/vx6: run as nobody
        # instead so the test touches nothing outside $tmp
        chown 65534:65534 "$home" "$xdg"
        chmod 700 "$xdg"
        runas=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    fi
    env -u XDG_DATA_HOME HOME="$home" XDG_RUNTIME_DIR="$xdg" "${runas[@]}" "$D" 2>"$tmp/d5.log" &
    dpid=$!
    pids+=($dpid)
    check "no config: vx6d starts on defaults" wait_status "$xdg/vx6.sock"
    check "no config: identity created in ~/.local/share/vx6" [ -f "$home/.local/share/vx6/identity.key" ]
    check "no config: data dir 0700" [ "$(stat -c %a "$home/.local/share/vx6")" = 700 ]
    st=$("$V" -s "$xdg/vx6.sock" status --json)
    check "no config: config_file is null" grep -q '"config_file":null' <<<"$st"
    check "no config: SOCKS 127.0.0.1:1080 configured" grep -q '"address":"127.0.0.1:1080"' <<<"$st"
    check "no config: node port [::]:4242 configured" grep -q '"address":"\[::\]:4242"' <<<"$st"
    check "no config: summary says defaults" grep -q "built-in defaults" "$tmp/d5.log"
    kill -TERM $dpid
    check "no config: SIGTERM stops" wait_gone $dpid 2000
    check "no config: socket removed" [ ! -e "$xdg/vx6.sock" ]
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

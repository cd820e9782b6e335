#!/usr/bin/env bash
# vx6nc.sh — vx6-nc against a stub SOCKS5 server (socks5_stub.py): CONNECT
# with ATYP=DOMAIN, half-close in both directions, every error reply, the
# daemon-not-running message and the bounded wait.  Runs as any user.
set -u
B=${VX6_BUILDDIR:-$(pwd)}
S=${VX6_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NC="$B/vx6-nc"
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
[ -x "$NC" ] || { echo "$NC is not built"; exit 1; }

tmp=$(mktemp -d /tmp/vx6nc.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

python3 "$S/tests/net/socks5_stub.py" "$tmp/port" "$tmp/log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "stub SOCKS server did not start"; exit 1; }
SOCKS="127.0.0.1:$(cat "$tmp/port")"

# 1. success + stdin EOF -> SHUT_WR: the server answers only after our EOF.
out=$(printf 'hello world' | timeout 10 "$NC" -s "$SOCKS" echo.vx6 22 2>"$tmp/err")
rc=$?
check "echo: exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "echo: reply after half-close ('$out')" [ "$out" = "HELLO WORLD|11 bytes" ]
check "echo: CONNECT used ATYP=DOMAIN with host and port" grep -qx "DOMAIN echo.vx6 22" "$tmp/log"

# 2. larger transfer through the relay (more than one buffer)
head -c 300000 /dev/zero | tr '\0' 'a' >"$tmp/big"
out=$(timeout 10 "$NC" -s "$SOCKS" echo.vx6 80 <"$tmp/big" | tail -c 20)
check "echo: 300000 bytes relayed ('$out')" [ "$out" = "AAAAAAA|300000 bytes" ]

# 3. socket EOF -> stdout closed while stdin still flows; exit after both.
#    stdin: 3 chunks over ~0.6 s, sent after the server already closed its side.
out=$( { sleep 0.3; printf 'abc'; sleep 0.3; printf 'defg'; } | \
      timeout 10 "$NC" -s "$SOCKS" banner.vx6 22 2>"$tmp/err")
rc=$?
check "banner: exit 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "banner: banner printed" [ "$out" = $'SSH-2.0-stub\r' ]
sleep 0.2
check "banner: our 7 bytes still reached the server after its EOF" \
    grep -qx "BANNER-PEER-SENT 7" "$tmp/log"

# 3b. stdout closes as soon as the server's side ends, before stdin does:
#     a reader of stdout sees EOF while vx6-nc still waits for stdin.
( sleep 1.5; printf x ) | timeout 10 "$NC" -s "$SOCKS" banner.vx6 22 >"$tmp/fifo.out" 2>/dev/null &
ncpid=$!
pids+=($ncpid)
sleep 0.6
check "banner: still running while stdin is open" kill -0 "$ncpid"
check "banner: output already complete" grep -q "SSH-2.0-stub" "$tmp/fifo.out"
wait "$ncpid"
check "banner: exits once stdin ends too (rc=$?)" true

# 4. every error reply gives its message and exit 1
declare -A want=(
    [01]="H:22: general failure in vx6d"
    [02]="connection to H:22 not allowed"
    [03]="H:22: network unreachable"
    [04]="H:22: host unreachable"
    [05]="H:22: connection refused"
    [06]="H:22: timed out"
    [07]="H:22: command not supported"
    [08]="H:22: address type not supported"
    [f0]="no record for H (name not found)"
    [f1]="the record for H is invalid"
    [f2]="introduction to H failed"
    [f3]="rendezvous with H failed"
    [f4]="H requires client authorization"
    [f5]="client authorization for H was refused"
    [f6]="bad address: H"
    [f7]="introduction to H timed out"
)
for code in "${!want[@]}"; do
    : | timeout 10 "$NC" -s "$SOCKS" "err-$code.vx6" 22 >/dev/null 2>"$tmp/err"
    rc=$?
    msg=$(cat "$tmp/err")
    up=$(echo "$code" | tr a-f A-F)
    expect="vx6-nc: ${want[$code]//H/err-$code.vx6}"
    if [ "$rc" -eq 1 ] && [ "${msg#"$expect"}" != "$msg" ] &&
        [ "${msg%"(SOCKS5 reply 0x$up)"}" != "$msg" ]; then
        ok "reply 0x$code -> '$msg'"
    else
        bad "reply 0x$code: rc=$rc msg='$msg' want '$expect'"
    fi
done

# 5. nothing listening: clear message, exit 1
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$tmp/free"
FREE=$(cat "$tmp/free")
: | timeout 10 "$NC" -s "127.0.0.1:$FREE" alice.ssh.vx6 22 2>"$tmp/err"
rc=$?
check "not running: exit 1 (rc=$rc)" [ "$rc" -eq 1 ]
check "not running: message ($(cat "$tmp/err"))" grep -qx \
    "vx6-nc: cannot reach vx6d's SOCKS port at 127.0.0.1:$FREE: Connection refused (is vx6d running?)" "$tmp/err"

# 6. VX6_SOCKS is honoured
out=$(printf 'x' | VX6_SOCKS="$SOCKS" timeout 10 "$NC" echo.vx6 7 2>/dev/null)
check "VX6_SOCKS: used ('$out')" [ "$out" = "X|1 bytes" ]

# 7. bounded wait for the tunnel
start=$(date +%s%N)
timeout 10 "$NC" -w 1 -s "$SOCKS" silent.vx6 22 </dev/null 2>"$tmp/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "silent: exit 1 (rc=$rc)" [ "$rc" -eq 1 ]
check "silent: gave up in ${ms} ms" [ "$ms" -lt 4000 ]
check "silent: message" grep -q "no answer from vx6d within 1 s" "$tmp/err"

# 8. --route/--hops: offered as username/password, the options as username
out=$(printf 'r' | timeout 10 "$NC" -s "$SOCKS" -r relay --hops 5 echo.vx6 9 2>"$tmp/err")
check "route: stream works ('$out')" [ "$out" = "R|1 bytes" ]
check "route: username route=relay;hops=5" grep -qx "USER route=relay;hops=5" "$tmp/log"
printf 'r' | timeout 10 "$NC" -s "$SOCKS" --route direct echo.vx6 9 >/dev/null 2>&1
check "route: username route=direct" grep -qx "USER route=direct" "$tmp/log"
before=$(grep -c "^USER" "$tmp/log")
printf 'r' | timeout 10 "$NC" -s "$SOCKS" echo.vx6 9 >/dev/null 2>&1
check "route: none given, no username sent" [ "$(grep -c "^USER" "$tmp/log")" = "$before" ]
"$NC" -r sideways h.vx6 22 2>/dev/null; check "usage: bad route -> 2" [ $? -eq 2 ]
"$NC" --hops 9 h.vx6 22 2>/dev/null; check "usage: --hops 9 -> 2" [ $? -eq 2 ]

# 9. usage errors
"$NC" onlyhost 2>/dev/null; check "usage: missing port -> 2" [ $? -eq 2 ]
"$NC" h.vx6 99999 2>/dev/null; check "usage: bad port -> 2" [ $? -eq 2 ]
"$NC" -s nonsense h.vx6 22 2>/dev/null; check "usage: bad SOCKS address -> 2" [ $? -eq 2 ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

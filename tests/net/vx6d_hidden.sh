#!/bin/bash
# vx6d_hidden.sh — hidden services in real vx6d nodes.
#
#   ns1: owner O, services `web` (python3 http.server) and `ssh` (a real
#        sshd), both `hidden: true`
#   ns2..ns9: relays (intro points, rendezvous points, guards, middles)
#   ns10: client C with the SOCKS front-end on 127.0.0.1:1080 and an alias
#        `blog` for web's ADDRESS
# Every node is in its own /48 and bootstraps its DHT from ns2.
# Checks: `vx6 hidden status` shows web published with 3 active + 2 standby
# intro points (and --json); curl --socks5-hostname http://ADDRESS.vx6/ and
# through the alias; ssh with ProxyCommand vx6-nc to the hidden sshd; the
# owner counts the introduces; a malformed address gets SOCKS 0xF6 and an
# unknown one 0xF0, each within seconds; route options do not matter.
. "$(dirname "$0")/lib.sh"
vx_require_root
for t in curl ssh ssh-keygen python3; do
    command -v $t >/dev/null || vx_skip "$t not installed"
done
[ -x /usr/sbin/sshd ] || vx_skip "sshd not installed"
[ -x "$VX_BLD/vx6d" ] || { echo "FAIL: vx6d not built"; exit 1; }

N=10
vx_netns_up48 $N
MARK="VX6D-HIDDEN-$$-$RANDOM"
mkdir -p "$VX_TMP/www"
echo "$MARK" >"$VX_TMP/www/index.html"
vx_bg 1 python3 -m http.server --bind 127.0.0.1 --directory "$VX_TMP/www" 8080 \
    >"$VX_TMP/httpd.out" 2>&1
ssh-keygen -q -t ed25519 -N '' -f "$VX_TMP/hostkey" &&
    ssh-keygen -q -t ed25519 -N '' -f "$VX_TMP/clientkey" || exit 1
cp "$VX_TMP/clientkey.pub" "$VX_TMP/authorized_keys"
chmod 600 "$VX_TMP/authorized_keys"
mkdir -p /run/sshd
vx_bg 1 /usr/sbin/sshd -D -e -f /dev/null -o ListenAddress=127.0.0.1:2222 \
    -o HostKey="$VX_TMP/hostkey" -o AuthorizedKeysFile="$VX_TMP/authorized_keys" \
    -o StrictModes=no -o PasswordAuthentication=no -o PidFile=none
vx_wait_tcp 1 127.0.0.1 8080 || exit 1
vx_wait_tcp 1 127.0.0.1 2222 || exit 1

conf() { # K
    echo "listen: [\"[::]:4242\"]"
    echo "transport: auto # QUIC (the DHT shares UDP 4242), TCP fallback"
    echo "log_level: info"
    [ "$1" = $N ] && echo "socks: 127.0.0.1:1080" || echo "socks: off"
    [ "$1" != 2 ] && printf 'bootstrap:\n  - "[%s]:4242"\n' "$(vx_ip48 2)"
    if [ "$1" = 1 ]; then
        printf 'services:\n  - name: web\n    target: 127.0.0.1:8080\n    hidden: true\n'
        printf '  - name: ssh\n    target: 127.0.0.1:2222\n    hidden: true\n'
    fi
}
for k in $(seq 2 $N) 1; do
    [ $k = $N ] && continue
    vx_node $k n$k <<<"$(conf $k)" || exit 1
done

published() { vx_ctl n1 hidden status | grep -q "state: *published"; }
check "the owner publishes (vx6 hidden status)" retry 40 published
vx_ctl n1 hidden status >"$VX_TMP/status.txt"
WEB=$(vx_ctl n1 hidden address web 2>/dev/null || true)
[ -n "$WEB" ] || WEB=$("$VX_BLD/vx6" -c "$VX_TMP/n1.yaml" hidden address web)
SSHA=$("$VX_BLD/vx6" -c "$VX_TMP/n1.yaml" hidden address ssh)
check "hidden status names web's address" grep -q "^web  $WEB" "$VX_TMP/status.txt"
js=$(vx_ctl n1 --json hidden status)
jf() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1" <<<"$js"; }
check "--json: web published" test "$(jf '[0]["published"]')" = True
check "--json: 3 active intro points" test "$(jf '[0]["intros_active"]')" = 3
check "--json: 2 standby intro points" test "$(jf '[0]["intros_standby"]')" = 2
check "--json: reachable time set" test "$(jf '[0]["reachable_unix"]')" -gt 0

vx_node $N n$N <<<"$(conf $N; printf 'aliases:\n  blog: %s\n' "$WEB")" || exit 1

get() { nsx $N curl -s -m 25 --socks5-hostname 127.0.0.1:1080 "$@"; }
page() { [ "$(get "http://$1/")" = "$MARK" ]; }
check "curl http://ADDRESS.vx6/ through a rendezvous" retry 30 page "$WEB"
check "curl http://blog.vx6/ (alias to the hidden address)" page blog.vx6
out=$(nsx $N ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
    -o ConnectTimeout=25 -i "$VX_TMP/clientkey" \
    -o ProxyCommand="$VX_BLD/vx6-nc %h %p" "root@$SSHA" "echo ssh-$MARK" 2>"$VX_TMP/ssh.err")
check "ssh via vx6-nc to the hidden sshd" test "$out" = "ssh-$MARK"
intro=$(vx_ctl n1 --json hidden status | python3 -c 'import json,sys; print(sum(s["introduces"] for s in json.load(sys.stdin)))')
check "the owner counted the introduces ($intro)" test "$intro" -ge 3

# errors: SOCKS reply codes within seconds
S5="python3 $VX_SRC/tests/net/socks5.py 1080"
BAD=$(echo "$WEB" | sed 's/^\(.\)\(.\)/\2\1/') # a broken checksum
[ "$BAD" = "$WEB" ] && BAD=$(echo "$WEB" | sed 's/^./a/;s/^aa/bb/')
UNKNOWN=$("$VX_BLD/tests/tools/vx6-hs-node" -K 2>/dev/null)
socks_err() { # DESC HOST WANT SECS
    local t0=$SECONDS out
    out=$(nsx $N $S5 "$2" 80)
    check "$1: SOCKS5 $3 (got ${out:-nothing})" test "$out" = "rep=$3"
    check "$1: within $4 s" test $((SECONDS - t0)) -le "$4"
}
socks_err "malformed hidden address" "$BAD" 0xf6 2
[ -n "$UNKNOWN" ] && socks_err "unknown hidden address" "$UNKNOWN" 0xf0 8
vx_finish

#!/bin/bash
# vx6d_hidden.sh — hidden services in real vx6d nodes (12 of them).
#
#   ns1: owner O, services `web` (python3 http.server) and `ssh` (a real
#        sshd), both `hidden: true`, and `priv` (another http.server),
#        hidden with `authorized_clients:` [the public key of ns11's key file]
#   ns2..ns9: relays (intro points, rendezvous points, guards, middles)
#   ns10: client C with the SOCKS front-end on 127.0.0.1:1080 and an alias
#        `blog` for web's ADDRESS; no client-authorization key
#   ns11: client A with `hidden_auth:` {priv's ADDRESS, its key file}
#   ns12: client W with `hidden_auth:` {priv's ADDRESS, key: identity} — a
#        key the owner did not list
# Every node is in its own /48 and bootstraps its DHT from ns2.
# Checks: `vx6 hidden status` shows web published with 3 active + 2 standby
# intro points (and --json); curl --socks5-hostname http://ADDRESS.vx6/ and
# through the alias; ssh with ProxyCommand vx6-nc to the hidden sshd; the
# owner counts the introduces; a malformed address gets SOCKS 0xF6 and an
# unknown one 0xF0, each within seconds; client authorization: A fetches
# priv with curl, C gets 0xF4 (missing) and W 0xF5 (wrong), within seconds;
# then the vx6d of an active intro point of web is killed (SIGKILL): the
# owner replaces it (status: the victim is gone, a standby moved up, the
# descriptor was published again) and new connections from a client that
# still holds the old descriptor and from one that never fetched it succeed
# within a bounded time, with the default dead-peer time: the dead node's
# neighbours learn it from ICMP port unreachable (a probe, then close).
. "$(dirname "$0")/lib.sh"
vx_require_root
for t in curl ssh ssh-keygen python3; do
    command -v $t >/dev/null || vx_skip "$t not installed"
done
[ -x /usr/sbin/sshd ] || vx_skip "sshd not installed"
[ -x "$VX_BLD/vx6d" ] || { echo "FAIL: vx6d not built"; exit 1; }

# A node whose vx6d is killed does not close its QUIC sessions; its kernel
# answers with ICMP port unreachable, and the relays next to it close their
# sessions about a second after their next packet to it (vx6d(8),
# VX6_DEAD_PEER_MS): the default dead-peer time of 45 s applies here.
unset VX6_DEAD_PEER_MS
N=12
C=10 # client without a key
A=11 # authorized client
W=12 # client with a key the owner did not list
vx_netns_up48 $N
MARK="VX6D-HIDDEN-$$-$RANDOM"
mkdir -p "$VX_TMP/www" "$VX_TMP/priv"
echo "$MARK" >"$VX_TMP/www/index.html"
echo "PRIV-$MARK" >"$VX_TMP/priv/index.html"
vx_bg 1 python3 -m http.server --bind 127.0.0.1 --directory "$VX_TMP/www" 8080 \
    >"$VX_TMP/httpd.out" 2>&1
vx_bg 1 python3 -m http.server --bind 127.0.0.1 --directory "$VX_TMP/priv" 8081 \
    >"$VX_TMP/httpd-priv.out" 2>&1
vx_sshd 1 127.0.0.1:2222 || exit 1
vx_wait_tcp 1 127.0.0.1 8080 || exit 1
vx_wait_tcp 1 127.0.0.1 8081 || exit 1
vx_wait_tcp 1 127.0.0.1 2222 || exit 1

# client authorization: A's key file and its public key (vx6 hidden
# auth-key), and priv's ADDRESS, made before the owner starts
"$VX_BLD/vx6" keygen -o "$VX_TMP/a-auth.key" >/dev/null 2>&1 || exit 1
APK=$("$VX_BLD/vx6" hidden auth-key --key "$VX_TMP/a-auth.key") || exit 1
mkdir -p "$VX_TMP/n1.d"
printf 'data_dir: %s\nservices:\n  - {name: priv, target: 8081, hidden: true}\n' \
    "$VX_TMP/n1.d" >"$VX_TMP/pre.yaml"
PRIV=$("$VX_BLD/vx6" -c "$VX_TMP/pre.yaml" hidden address --create priv 2>/dev/null)
WEB=$("$VX_BLD/vx6" -c "$VX_TMP/pre.yaml" hidden address --create web 2>/dev/null)
[ -n "$PRIV" ] && [ -n "$WEB" ] || { echo "FAIL: no addresses for priv and web"; exit 1; }

conf() { # K
    echo "listen: [\"[::]:4242\"]"
    echo "transport: auto # QUIC (the DHT shares UDP 4242), TCP fallback"
    echo "log_level: info"
    [ "$1" -ge $C ] && echo "socks: 127.0.0.1:1080" || echo "socks: off"
    [ "$1" != 2 ] && printf 'bootstrap:\n  - "[%s]:4242"\n' "$(vx_ip48 2)"
    if [ "$1" = 1 ]; then
        printf 'services:\n  - name: web\n    target: 127.0.0.1:8080\n    hidden: true\n'
        printf '  - name: ssh\n    target: 127.0.0.1:2222\n    hidden: true\n'
        printf '  - name: priv\n    target: 127.0.0.1:8081\n    hidden: true\n'
        printf '    authorized_clients:\n      - %s # client A\n' "$APK"
    fi
    [ "$1" = $A ] && printf 'hidden_auth:\n  - address: %s\n    key: %s\n' "$PRIV" "$VX_TMP/a-auth.key"
    [ "$1" = $W ] && printf 'hidden_auth:\n  - address: %s\n    key: identity\n' "$PRIV"
}
# The relays first, then the clients, the owner last.  (The owner reaches
# any rendezvous point a client names, known to it or not.)
for k in $(seq 2 9); do
    vx_node $k n$k <<<"$(conf $k)" || exit 1
done
vx_node $C n$C <<<"$(conf $C; printf 'aliases:\n  blog: %s\n' "$WEB")" || exit 1
vx_node $A n$A <<<"$(conf $A)" || exit 1
vx_node $W n$W <<<"$(conf $W)" || exit 1
vx_node 1 n1 <<<"$(conf 1)" || exit 1

published() { vx_ctl n1 hidden status | grep -q "state: *published"; }
check "the owner publishes (vx6 hidden status)" retry 40 published
vx_ctl n1 hidden status >"$VX_TMP/status.txt"
check "the owner's web key is the one made before" \
    test "$("$VX_BLD/vx6" -c "$VX_TMP/n1.yaml" hidden address web)" = "$WEB"
SSHA=$("$VX_BLD/vx6" -c "$VX_TMP/n1.yaml" hidden address ssh)
check "hidden status names web's address" grep -q "^web  $WEB" "$VX_TMP/status.txt"
js=$(vx_ctl n1 --json hidden status)
jf() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1" <<<"$js"; }
check "--json: web published" test "$(jf '[0]["published"]')" = True
check "--json: 3 active intro points" test "$(jf '[0]["intros_active"]')" = 3
check "--json: 2 standby intro points" test "$(jf '[0]["intros_standby"]')" = 2
check "--json: reachable time set" test "$(jf '[0]["reachable_unix"]')" -gt 0
check "--json: 5 intro points listed" test "$(jf '[0]["intro_points"].__len__()')" = 5
check "--json: priv has 1 authorized client" test "$(jf '[2]["authorized_clients"]')" = 1
check "--json: priv published" retry 20 bash -c "'$VX_BLD/vx6' -s '$VX_TMP/n1.sock' --json hidden status | grep -q '\"name\":\"priv\",[^}]*\"published\":true'"

check "the authorized client's daemon loaded its key" \
    grep -q "${PRIV%.vx6}.vx6  key $VX_TMP/a-auth.key: public key $APK" <(vx_ctl n$A hidden status)

getn() { local k=$1; shift; nsx $k curl -s -m 25 --socks5-hostname 127.0.0.1:1080 "$@"; }
get() { getn $C "$@"; }
page() { [ "$(get "http://$1/")" = "$MARK" ]; }
check "curl http://ADDRESS.vx6/ through a rendezvous" retry 30 page "$WEB"
check "curl http://blog.vx6/ (alias to the hidden address)" page blog.vx6
out=$(nsx $C ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
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
    out=$(nsx ${5:-$C} $S5 "$2" 80)
    check "$1: SOCKS5 $3 (got ${out:-nothing})" test "$out" = "rep=$3"
    check "$1: within $4 s" test $((SECONDS - t0)) -le "$4"
}
socks_err "malformed hidden address" "$BAD" 0xf6 2
[ -n "$UNKNOWN" ] && socks_err "unknown hidden address" "$UNKNOWN" 0xf0 8

# client authorization
privpage() { [ "$(getn $A "http://$PRIV/")" = "PRIV-$MARK" ]; }
check "authorized client: curl http://PRIV.vx6/" retry 30 privpage
socks_err "client without a key" "$PRIV" 0xf4 8 $C
socks_err "client with a key the owner did not list" "$PRIV" 0xf5 8 $W
check "the unauthorized clients got no page" \
    test -z "$(getn $C -m 10 "http://$PRIV/")$(getn $W -m 10 "http://$PRIV/")"

# an active intro point of web dies (SIGKILL of its vx6d)
declare -A NS_OF
for k in $(seq 2 $N); do
    id=$(vx_ctl n$k --json id | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')
    NS_OF[$id]=$k
done
js=$(vx_ctl n1 --json hidden status)
before_changes=$(jf '[0]["intro_changes"]')
before_pub=$(jf '[0]["publishes"]')
VICTIM="" VID=""
for i in 0 1 2; do # the active ones; not a client the test still uses
    id=$(jf "[0][\"intro_points\"][$i][\"node_id\"]")
    k=${NS_OF[$id]:-}
    echo "    active intro point $i: ${id:0:12}… on n${k:-?}"
    if [ -n "$k" ] && [ "$k" != $C ] && [ "$k" != $W ]; then
        VICTIM=$k VID=$id
        break
    fi
done
check "an active intro point of web to kill (node n${VICTIM:-none})" test -n "$VICTIM"
if [ -n "$VICTIM" ]; then
    pid=$(eval echo "\$NODE_PID_n$VICTIM")
    t0=$SECONDS
    kill -9 "$pid"
    # before anyone notices, a circuit through the dead node stalls (the
    # owner's to a rendezvous point too: the client then gets 0xF3 after
    # VX_HS_REND_WAIT_MS and tries again); C's cached descriptor still
    # names the dead intro point, and C falls back to another one
    check "a client with the old descriptor connects after the kill" retry 20 page "$WEB"
    check "...within 20 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 20
    replaced() {
        js=$(vx_ctl n1 --json hidden status)
        [ "$(jf '[0]["intro_changes"]')" -gt "$before_changes" ] &&
            [ "$(jf '[0]["publishes"]')" -gt "$before_pub" ] &&
            ! grep -q "$VID" <<<"$(jf '[0]["intro_points"]')"
    }
    check "the owner replaced the dead intro point and republished" retry 30 replaced
    # (the relay next to it notices at its next packet to the dead node, a
    # keepalive at the latest (15 s), plus a 1 s probe; the 45 s idle
    # timeout would be far later)
    check "...within 25 s of the kill ($((SECONDS - t0)) s; dead-peer time 45 s)" \
        test $((SECONDS - t0)) -le 25
    icmp() { grep -l "QUIC peer .* unreachable (ICMP" "$VX_TMP"/n*.log | grep -v "/n$VICTIM.log" | head -1; }
    check "a neighbour of the dead node learnt it from ICMP (${VX_TMP:+$(basename "$(icmp)" 2>/dev/null)})" \
        test -n "$(icmp)"
    full() { js=$(vx_ctl n1 --json hidden status); [ "$(jf '[0]["intros_active"]')" = 3 ]; }
    check "3 active intro points again" retry 20 full
    vx_ctl n1 hidden status | sed -n '/^web/,/^[a-z]/p' | grep "intro" | sed 's/^/    /'
    t1=$SECONDS
    check "a client that never fetched web connects" retry 15 \
        bash -c "[ \"\$(ip netns exec $VXP-$W curl -s -m 25 --socks5-hostname 127.0.0.1:1080 http://$WEB/)\" = '$MARK' ]"
    for i in 1 2 3; do
        check "new connection $i after the replacement" page "$WEB"
    done
    check "...all within 45 s ($((SECONDS - t1)) s)" test $((SECONDS - t1)) -le 45
fi
vx_finish

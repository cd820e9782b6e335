#!/bin/bash
# discovery.sh — 10 vx6d in network namespaces on one bridge, each in its own
# /48, bootstrapped as a tree (node K from node K/2).  Node 1 publishes `web`
# as user alice.  Every other node resolves alice.web.vx6 through the DHT
# (and, when vx6d has the SOCKS front-end, fetches the page with curl); a
# restarted node joins from its registry alone; after alice's node is gone
# and its records expired, a new node claiming alice with another key is
# refused with KEY CHANGED on a node that pinned the first key, until
# `vx6 trust`.
. "$(dirname "$0")/disco_lib.sh"

dl_require_root
command -v python3 >/dev/null || { echo "SKIP: python3 needed"; exit 77; }
N=10
LIFE=12 # record lifetime for this test, so that alice's claim can lapse
dl_netns_up $N

mkdir -p "$DL_TMP/www"
echo "hello from alice" >"$DL_TMP/www/index.html"
dl_bg 1 python3 -m http.server 8080 --bind 127.0.0.1 --directory "$DL_TMP/www"

ALICE_SVC='user: alice\nservices:\n  - name: web\n    target: 127.0.0.1:8080\n'
node_conf() { # K [bootstrap...]
    local k=$1 b
    shift
    echo "listen: [\"[::]:4242\"]"
    echo "log_level: ${LOGSPEC:-info}"
    [ -n "${VX6_TEST_TRANSPORT:-}" ] && echo "transport: $VX6_TEST_TRANSPORT"
    if [ $# -gt 0 ]; then
        echo "bootstrap:"
        for b in "$@"; do echo "  - \"[$(dl_addr "$b")]:4242\""; done
    fi
}

dl_node 1 n1 VX6_RECORD_LIFETIME=$LIFE <<<"$(node_conf 1; printf "$ALICE_SVC")"
for k in $(seq 2 $N); do
    dl_node $k n$k VX6_RECORD_LIFETIME=$LIFE <<<"$(node_conf $k $((k / 2)))"
done
ALICE_ID=$(dl_vx6 n1 id --json | dl_json '["node_id"]')
ALICE_KEY=$(dl_vx6 n1 id --json | dl_json '["public_key"]')

resolves_to() { # NAME ID: resolve alice.web.vx6 --json shows node ID
    local out
    out=$(dl_vx6 "$1" resolve alice.web.vx6 --json 2>/dev/null) || return 1
    [ "$(echo "$out" | dl_json '["node_id"]')" = "$2" ] &&
        echo "$out" | dl_json '["endpoints"][0]["address"]' | grep -q "fd00:1::1"
}

HAVE_SOCKS=0 # vx6d with the SOCKS front-end (the gateway module)?
nsx 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/1080' 2>/dev/null && HAVE_SOCKS=1

fetch() { # K
    nsx "$1" curl -s --max-time 10 --socks5-hostname 127.0.0.1:1080 http://alice.web.vx6/ |
        grep -q "hello from alice"
}

for k in $(seq 2 $N); do
    check "node $k resolves alice.web.vx6 to node 1" retry 15 resolves_to n$k "$ALICE_ID"
    if [ $HAVE_SOCKS = 1 ]; then
        check "node $k fetches http://alice.web.vx6/ through its SOCKS port" fetch $k
    fi
done
[ $HAVE_SOCKS = 1 ] || echo "note: vx6d has no SOCKS front-end in this build: curl checks skipped"

out=$(dl_vx6 n5 resolve alice.web.vx6)
check "text resolve shows key, pin state and how it was found" \
    bash -c "grep -q '$ALICE_KEY (pinned' <<<'$out' && grep -q 'found:' <<<'$out'"
check "alice.web is pinned on node 5 with alice's key" \
    bash -c "dl() { $DL_BLD/vx6 -s $DL_TMP/n5.sock \"\$@\"; }; dl resolve alice.web --json | grep -q '\"key\":\"$ALICE_KEY\"'"
check "vx6 peers lists routing-table peers" \
    bash -c "$DL_BLD/vx6 -s $DL_TMP/n7.sock peers --json | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)[\"routing_table\"])>=3 else 1)'"

# aliases: registry alias resolves like the name it stands for
check "vx6 alias add" dl_vx6 n3 alias add site alice.web.vx6
check "vx6 alias list shows it" bash -c "$DL_BLD/vx6 -s $DL_TMP/n3.sock alias list | grep -q 'site.vx6 -> alice.web'"
check "an alias resolves" resolves_to n3 "$ALICE_ID"
check "resolve site.vx6" bash -c "$DL_BLD/vx6 -s $DL_TMP/n3.sock resolve site.vx6 | grep -q '$ALICE_ID'"
check "vx6 alias rm" dl_vx6 n3 alias rm site
check "a removed alias is gone" bash -c "! $DL_BLD/vx6 -s $DL_TMP/n3.sock resolve site.vx6 2>/dev/null"

# unpublish / publish on the owner
check "vx6 unpublish web" dl_vx6 n1 unpublish web
check "vx6 publish web" dl_vx6 n1 publish web
check "unknown service refused" bash -c "! $DL_BLD/vx6 -s $DL_TMP/n1.sock publish nosuch 2>/dev/null"

# restart node 10 without bootstrap: it joins from its registry alone
N10_ID=$(dl_vx6 n10 id --json | dl_json '["node_id"]')
dl_stop n10
check "node 10 saved its registry on stop" test -s "$DL_TMP/n10.d/registry.bin"
dl_node 10 n10 VX6_RECORD_LIFETIME=$LIFE <<<"$(node_conf 10)"
check "node 10's config has no bootstrap" bash -c "! grep -q bootstrap $DL_TMP/n10.yaml"
peers_up() {
    dl_vx6 n10 peers --json | python3 -c 'import json,sys
sys.exit(0 if sum(1 for p in json.load(sys.stdin)["routing_table"] if p["confirmed"])>=2 else 1)'
}
check "restarted node 10 finds peers from its registry" retry 10 peers_up
check "restarted node 10 resolves alice.web.vx6" retry 10 resolves_to n10 "$ALICE_ID"
check "restarted node 10 is in node 3's routing table" \
    retry 10 bash -c "$DL_BLD/vx6 -s $DL_TMP/n3.sock peers | grep -q $N10_ID"

# alice's node goes away; once her records lapsed, a new key claims "alice"
dl_stop n1
sleep $((LIFE + 2))
rm -rf "$DL_TMP/n1b.d"
dl_node 1 n1b VX6_RECORD_LIFETIME=$LIFE <<<"$(node_conf 1 3; printf "$ALICE_SVC")"
NEW_ID=$(dl_vx6 n1b id --json | dl_json '["node_id"]')
NEW_KEY=$(dl_vx6 n1b id --json | dl_json '["public_key"]')
check "the new alice node has another key" test "$NEW_KEY" != "$ALICE_KEY"
keychanged() {
    local err
    err=$(dl_vx6 n2 resolve alice.web.vx6 2>&1 >/dev/null) && return 1
    grep -q "KEY CHANGED" <<<"$err" && grep -q "vx6 trust alice $NEW_KEY" <<<"$err"
}
check "node 2 (pinned alice's first key) refuses the new key with KEY CHANGED" retry 15 keychanged
if [ $HAVE_SOCKS = 1 ]; then
    check "curl on node 2 fails while the key is not trusted" bash -c "! nsx 2 curl -s --max-time 10 --socks5-hostname 127.0.0.1:1080 http://alice.web.vx6/ >/dev/null"
fi
check "vx6 trust alice NEWKEY" dl_vx6 n2 trust alice "$NEW_KEY"
check "after vx6 trust node 2 resolves alice to the new node" retry 10 resolves_to n2 "$NEW_ID"
if [ $HAVE_SOCKS = 1 ]; then
    check "and fetches the page" retry 10 fetch 2
fi
dl_finish

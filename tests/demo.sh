#!/usr/bin/env bash
# demo.sh — two vx6d nodes on loopback; node A publishes a small web page as
# alice.web.vx6, node B finds it through the DHT and curl fetches it through
# B's SOCKS port.  Run from a built tree (README, "Quick start").
#
#   tests/demo.sh            run the demo and stop the nodes
#   tests/demo.sh --keep     leave both nodes running (Ctrl-C stops them)
#
# Ports: node A 14242 (TCP+UDP), node B 14243 and SOCKS on 127.0.0.1:11080,
# the web page on 127.0.0.1:18080.  Nothing leaves the machine.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bld=${VX6_BUILDDIR:-$top}
keep=0
[ "${1:-}" = "--keep" ] && keep=1

for b in vx6d vx6; do
    [ -x "$bld/$b" ] || { echo "demo: $bld/$b is not built: run ./configure && make first" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "demo: curl is needed (apt-get install curl)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "demo: python3 is needed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vx6-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

mkdir -p "$tmp/www"
cat >"$tmp/www/index.html" <<'HTML'
<!doctype html>
<title>alice's page</title>
<p>Hello from alice's laptop: this page is served on 127.0.0.1:18080 and
reached by name, alice.web.vx6, through VX6.</p>
HTML
(cd "$tmp/www" && exec python3 -m http.server 18080 --bind 127.0.0.1) >/dev/null 2>&1 &
pids+=($!)

cat >"$tmp/a.yaml" <<EOF
# node A: alice publishes her local web server
data_dir: $tmp/a
control_socket: $tmp/a.sock
user: alice
listen: ["[::1]:14242"]
socks: off
services:
  - name: web
    target: 127.0.0.1:18080
EOF
cat >"$tmp/b.yaml" <<EOF
# node B: a client that knows node A's address and nothing else
data_dir: $tmp/b
control_socket: $tmp/b.sock
listen: ["[::1]:14243"]
socks: 127.0.0.1:11080
bootstrap: ["[::1]:14242"]
EOF

start() { # NAME
    "$bld/vx6d" -c "$tmp/$1.yaml" >"$tmp/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
        "$bld/vx6" -s "$tmp/$1.sock" status >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "demo: node $1 did not start; its log:" >&2
    cat "$tmp/$1.log" >&2
    exit 1
}

say "starting node A (publishes alice.web.vx6 -> 127.0.0.1:18080)"
start a
"$bld/vx6" -s "$tmp/a.sock" services
say "starting node B (SOCKS5/HTTP proxy on 127.0.0.1:11080, bootstrap [::1]:14242)"
start b
"$bld/vx6" -s "$tmp/b.sock" status

say "curl --socks5-hostname 127.0.0.1:11080 http://alice.web.vx6/"
ok=0
for _ in $(seq 1 40); do
    if out=$(curl -s -m 5 --socks5-hostname 127.0.0.1:11080 http://alice.web.vx6/) &&
        [ -n "$out" ]; then
        ok=1
        break
    fi
    sleep 0.25 # node A's records may still be on their way into the DHT
done
if [ $ok = 0 ]; then
    echo "demo: the page did not come through; node logs:" >&2
    tail -n 20 "$tmp/a.log" "$tmp/b.log" >&2
    exit 1
fi
echo "$out"

say "how node B found it: vx6 resolve alice.web.vx6"
"$bld/vx6" -s "$tmp/b.sock" resolve alice.web.vx6 || true

if [ $keep = 1 ]; then
    say "nodes keep running; try: curl --socks5-hostname 127.0.0.1:11080 http://alice.web.vx6/"
    echo "control: $bld/vx6 -s $tmp/b.sock status   (Ctrl-C stops everything)"
    wait
fi
say "demo finished"

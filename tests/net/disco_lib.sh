# disco_lib.sh — helpers for the discovery tests (source it; bash).
#
#   dl_require_root            exit 77 unless root with working `ip netns`
#   dl_netns_up N              namespaces $DLP-1..N on one bridge; node K has
#                              fd00:K::1/64 (its own /48) with fd00::/16 on-link
#   dl_addr K                  fd00:K::1
#   dl_node K NAME [ENV=V...]  start vx6d in ns K with $DL_TMP/NAME.yaml (config
#                              body on stdin, not from a pipe: dl_node ... <<<"$conf";
#                              data_dir and control_socket added)
#   dl_stop NAME               vx6 stop, wait for the process to exit
#   dl_vx6 NAME ARGS...        the vx6 CLI against NAME's control socket
#   dl_bg K CMD...             run CMD in ns K in the background (killed at exit)
#   check DESC CMD...          run CMD, print ok/FAIL, count failures
#   retry SECS CMD...          run CMD until it succeeds or SECS pass
# Everything started is killed and the namespaces deleted on exit.
set -u

DL_SRC=${VX6_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DL_BLD=${VX6_BUILDDIR:-$DL_SRC}
DLP=vx6d$$
DL_TMP=$(mktemp -d /tmp/vx6disco.XXXXXX)
DL_PIDS=()
DL_NS=()
DL_FAILS=0

dl_cleanup() {
    local p n
    for p in "${DL_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${DL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for n in "${DL_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
    if [ "$DL_FAILS" -gt 0 ] || [ -n "${VX_KEEP_LOGS:-}" ]; then
        for f in "$DL_TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
    fi
    rm -rf "$DL_TMP"
}
trap dl_cleanup EXIT

dl_require_root() {
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
    command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) not installed"; exit 77; }
    if ! ip netns add "$DLP-probe" 2>/dev/null; then
        echo "SKIP: cannot create network namespaces"
        exit 77
    fi
    ip netns del "$DLP-probe"
    [ -x "$DL_BLD/vx6d" ] && [ -x "$DL_BLD/vx6" ] || { echo "FAIL: vx6d/vx6 not built"; exit 1; }
}

check() {
    if "${@:2}"; then
        echo "ok   $1"
    else
        echo "FAIL $1"
        DL_FAILS=$((DL_FAILS + 1))
    fi
}

retry() {
    local secs=$1 end
    shift
    end=$((SECONDS + secs))
    while :; do
        "$@" && return 0
        [ $SECONDS -ge $end ] && return 1
        sleep 0.2
    done
}

dl_finish() {
    [ "$DL_FAILS" -eq 0 ] && { echo "all checks passed"; exit 0; }
    echo "$DL_FAILS check(s) failed"
    exit 1
}

nsx() { local ns=$1; shift; ip netns exec "$DLP-$ns" "$@"; }

dl_addr() { echo "fd00:$1::1"; }

dl_netns_up() {
    local n=$1 k sw=$DLP-sw
    ip netns add "$sw"
    DL_NS+=("$sw")
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    for k in $(seq 1 "$n"); do
        ip netns add "$DLP-$k"
        DL_NS+=("$DLP-$k")
        ip -n "$DLP-$k" link set lo up
        ip -n "$DLP-$k" link add e0 type veth peer name p$k netns "$sw"
        ip -n "$sw" link set p$k master br0 up
        ip -n "$DLP-$k" addr add "$(dl_addr "$k")/64" dev e0 nodad
        ip -n "$DLP-$k" link set e0 up
        ip -n "$DLP-$k" -6 route add fd00::/16 dev e0
    done
}

dl_bg() {
    local ns=$1
    shift
    ip netns exec "$DLP-$ns" "$@" &
    DL_PIDS+=($!)
}

dl_vx6() {
    local name=$1
    shift
    "$DL_BLD/vx6" -s "$DL_TMP/$name.sock" "$@"
}

# dl_node NS NAME [VAR=VALUE...]: config body on stdin.  Sets PID_<NAME>.
dl_node() {
    local ns=$1 name=$2 pid i
    shift 2
    mkdir -p "$DL_TMP/$name.d"
    { echo "data_dir: $DL_TMP/$name.d"; echo "control_socket: $DL_TMP/$name.sock"; cat; } \
        >"$DL_TMP/$name.yaml"
    ip netns exec "$DLP-$ns" env "$@" "$DL_BLD/vx6d" -c "$DL_TMP/$name.yaml" \
        >>"$DL_TMP/$name.log" 2>&1 &
    pid=$!
    DL_PIDS+=($pid)
    eval "PID_$name=$pid"
    for i in $(seq 1 100); do
        dl_vx6 "$name" status >/dev/null 2>&1 && return 0
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    echo "node $name did not start:" >&2
    tail -n 20 "$DL_TMP/$name.log" >&2
    return 1
}

dl_stop() {
    local name=$1 pid i
    eval "pid=\$PID_$name"
    dl_vx6 "$name" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    return 1
}

# A JSON field of `vx6 ... --json` output: dl_json FIELD < json
dl_json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

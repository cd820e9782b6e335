# lib.sh — shell helpers for tests/net scripts (source it; bash).
#
#   vx_require_root                 exit 77 (skip) unless root and `ip netns` works
#   vx_netns_up N                   namespaces $VXP-1..N on one bridge:
#                                   fd00:5::K/64 and 10.55.0.K/24 (nodad), lo up
#   vx_node NS NAME <<<YAML         start a node in NS with that config and a
#                                   temp data dir; waits until it is ready
#   vx_vx6d NS CONFIG LOG [PRE...]  start vx6d -c CONFIG in NS (under PRE...:
#                                   setpriv, env...); sets VX_PID, waits until
#                                   its control socket answers
#   nsx NS CMD...                   run CMD in NS
#   vx_node_addr K                  fd00:5::K as used in SERVICE.<addr>.ipv6.vx6
#   vx_netns_up48 N                 like vx_netns_up, but node K is fd00:K::1/64
#                                   (its own /48: relay diversity rules hold)
#                                   with fd00::/16 on-link; vx_ip48 K prints it
#   vx_bg NS CMD...                 run CMD in NS in the background (killed at exit)
#   vx_wait_tcp NS HOST PORT        wait until something listens there
#   check DESC CMD...               run CMD, print ok/FAIL, count failures
#   vx_finish                       exit 1 if any check failed, else 0
# NS is K (namespace $VXP-K) or a full name $VXP-...; a script making its own
# namespaces names them $VXP-something and adds them to VX_NS, its processes
# to VX_PIDS.
# Everything started is killed and the namespaces deleted on exit.
# VX6_NODE_BIN picks the node binary (default: vx6d when built with the
# gateway, else tests/tools/vx6-gw-node).
set -u

VX_SRC=${VX6_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VX_BLD=${VX6_BUILDDIR:-$VX_SRC}
VXP=vx6g$$
VX_TMP=$(mktemp -d /tmp/vx6net.XXXXXX)
VX_PIDS=()
VX_NS=()
VX_FAILS=0

vx_skip() { echo "SKIP: $*"; exit 77; }

vx_cleanup() {
    local p n
    for p in "${VX_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.1
    for p in "${VX_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for n in "${VX_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
    if [ "$VX_FAILS" -gt 0 ] || [ -n "${VX_KEEP_LOGS:-}" ]; then
        for f in "$VX_TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
    fi
    rm -rf "$VX_TMP"
}
trap vx_cleanup EXIT

vx_require_root() {
    [ "$(id -u)" = 0 ] || vx_skip "needs root for network namespaces"
    command -v ip >/dev/null || vx_skip "iproute2 (ip) not installed"
    ip netns add "$VXP-probe" 2>/dev/null || vx_skip "cannot create network namespaces"
    ip netns del "$VXP-probe"
}

check() {
    if "${@:2}"; then
        echo "ok   $1"
    else
        echo "FAIL $1"
        VX_FAILS=$((VX_FAILS + 1))
    fi
}

vx_finish() {
    [ "$VX_FAILS" -eq 0 ] && { echo "all checks passed"; exit 0; }
    echo "$VX_FAILS check(s) failed"
    exit 1
}

vx_ns() { case $1 in "$VXP"-*) echo "$1" ;; *) echo "$VXP-$1" ;; esac; }

nsx() { local ns=$1; shift; ip netns exec "$(vx_ns "$ns")" "$@"; }

vx_netns_up() {
    local n=$1 k sw=$VXP-sw
    ip netns add "$sw"
    VX_NS+=("$sw")
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    for k in $(seq 1 "$n"); do
        ip netns add "$VXP-$k"
        VX_NS+=("$VXP-$k")
        ip -n "$VXP-$k" link set lo up
        ip -n "$VXP-$k" link add e0 type veth peer name p$k netns "$sw"
        ip -n "$sw" link set p$k master br0 up
        ip -n "$VXP-$k" addr add "fd00:5::$k/64" dev e0 nodad
        ip -n "$VXP-$k" addr add "10.55.0.$k/24" dev e0
        ip -n "$VXP-$k" link set e0 up
    done
}

vx_node_addr() { echo "fd00-5--$1"; }

vx_ip48() { echo "fd00:$1::1"; }

vx_netns_up48() {
    local n=$1 k sw=$VXP-sw
    ip netns add "$sw"
    VX_NS+=("$sw")
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    for k in $(seq 1 "$n"); do
        ip netns add "$VXP-$k"
        VX_NS+=("$VXP-$k")
        ip -n "$VXP-$k" link set lo up
        ip -n "$VXP-$k" link add e0 type veth peer name p$k netns "$sw"
        ip -n "$sw" link set p$k master br0 up
        ip -n "$VXP-$k" addr add "$(vx_ip48 "$k")/64" dev e0 nodad
        ip -n "$VXP-$k" link set e0 up
        ip -n "$VXP-$k" -6 route add fd00::/16 dev e0
    done
}

# retry SECS CMD...: run CMD until it succeeds or SECS pass.
retry() {
    local secs=$1 end
    shift
    end=$((SECONDS + secs))
    while :; do
        "$@" && return 0
        [ $SECONDS -ge $end ] && return 1
        sleep 0.3
    done
}

vx_node_bin() {
    if [ -n "${VX6_NODE_BIN:-}" ]; then
        echo "$VX6_NODE_BIN"
    else
        echo "$VX_BLD/vx6d"
    fi
}

# vx_ctl NAME ARGS...: the vx6 CLI against node NAME's control socket.
vx_ctl() {
    local name=$1; shift
    "$VX_BLD/vx6" -s "$VX_TMP/$name.sock" "$@"
}

vx_bg() {
    local ns=$1; shift
    ip netns exec "$(vx_ns "$ns")" "$@" &
    VX_PIDS+=($!)
}

# vx_sshd NS ADDR:PORT [SSHD ARGS...]: a real sshd in namespace NS with a
# fresh host key; $VX_TMP/clientkey is the key it lets in (as root).  Does not
# wait: use vx_wait_tcp.
vx_sshd() {
    local ns=$1 listen=$2
    shift 2
    if [ ! -f "$VX_TMP/clientkey" ]; then
        ssh-keygen -q -t ed25519 -N '' -f "$VX_TMP/hostkey" &&
            ssh-keygen -q -t ed25519 -N '' -f "$VX_TMP/clientkey" || return 1
        cp "$VX_TMP/clientkey.pub" "$VX_TMP/authorized_keys"
        chmod 600 "$VX_TMP/authorized_keys"
    fi
    mkdir -p /run/sshd
    vx_bg "$ns" /usr/sbin/sshd -D -e -f /dev/null -o ListenAddress="$listen" \
        -o HostKey="$VX_TMP/hostkey" -o AuthorizedKeysFile="$VX_TMP/authorized_keys" \
        -o StrictModes=no -o PasswordAuthentication=no -o PidFile=none "$@"
}

vx_wait_tcp() { # NS HOST PORT
    local i
    for i in $(seq 1 100); do
        nsx "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on $2:$3 in ns $1" >&2
    return 1
}

# vx_vx6d NS CONFIG LOG [PREFIX...]: vx6d -c CONFIG in NS, output to LOG,
# run through PREFIX if given (setpriv ..., env VAR=...).  Sets VX_PID and
# waits until the control socket named in CONFIG answers.  VX6_NODE_BIN, if
# it names a vx6d (an ASan build, say), is the one run.
vx_vx6d() {
    local ns=$1 cfg=$2 log=$3 sock bin i
    shift 3
    sock=$(sed -n 's/^control_socket: *//p' "$cfg")
    bin=$(vx_node_bin)
    [ "$(basename "$bin")" = vx6d ] || bin=$VX_BLD/vx6d
    ip netns exec "$(vx_ns "$ns")" "$@" "$bin" -c "$cfg" >"$log" 2>&1 &
    VX_PID=$!
    VX_PIDS+=($VX_PID)
    for i in $(seq 1 100); do
        "$VX_BLD/vx6" -s "$sock" status >/dev/null 2>&1 && return 0
        kill -0 $VX_PID 2>/dev/null || break
        sleep 0.05
    done
    echo "vx6d ($cfg) did not start:" >&2
    tail -n 20 "$log" >&2
    return 1
}

# vx_node NS NAME: config on stdin.  Sets NODE_PID_<NAME>.  Runs vx6d (or
# VX6_NODE_BIN, a test node that takes the config as its argument and
# prints "ready") and waits until it answers.
vx_node() {
    local ns=$1 name=$2 bin pid i
    bin=$(vx_node_bin)
    mkdir -p "$VX_TMP/$name.d"
    { echo "data_dir: $VX_TMP/$name.d"; echo "control_socket: $VX_TMP/$name.sock"; cat; } \
        >"$VX_TMP/$name.yaml"
    if [ "$(basename "$bin")" = vx6d ]; then
        vx_vx6d "$ns" "$VX_TMP/$name.yaml" "$VX_TMP/$name.log" || return 1
        eval "NODE_PID_$name=$VX_PID"
        return 0
    fi
    ip netns exec "$(vx_ns "$ns")" "$bin" "$VX_TMP/$name.yaml" >"$VX_TMP/$name.out" \
        2>"$VX_TMP/$name.log" &
    pid=$!
    VX_PIDS+=($pid)
    eval "NODE_PID_$name=$pid"
    for i in $(seq 1 100); do
        grep -q ready "$VX_TMP/$name.out" 2>/dev/null && return 0
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    echo "node $name did not start:" >&2
    cat "$VX_TMP/$name.log" >&2
    return 1
}

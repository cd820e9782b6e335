#!/usr/bin/env bash
# ssh_scp.sh — ssh and scp to a real sshd published through vx6d, with
# vx6-nc as the ProxyCommand, on the direct IPv6 path and by name.
#
#   ns1: node A (user alice) publishes `ssh` -> sshd on 127.0.0.1:2222
#   ns2: node B, SOCKS on 127.0.0.1:1080, bootstraps from A
# Checks: ssh runs a command through ssh.<A>.ipv6.vx6 and alice.ssh.vx6;
# scp of a 100 MB file comes back with the same SHA-256; a second ssh
# reuses the session; vx6-nc fails clearly for a name that does not resolve.
. "$(dirname "$0")/lib.sh"
vx_require_root
for t in ssh scp ssh-keygen sha256sum; do
    command -v $t >/dev/null || vx_skip "$t not installed (openssh-client)"
done
[ -x /usr/sbin/sshd ] || vx_skip "sshd not installed (openssh-server)"

vx_netns_up 2
A=$(vx_node_addr 1)

vx_sshd 1 127.0.0.1:2222 -o "Subsystem=sftp internal-sftp" || exit 1
vx_wait_tcp 1 127.0.0.1 2222 || exit 1

vx_node 1 a <<'YAML' || exit 1
user: alice
listen: ["[::]:4242"]
socks: off
services:
  - name: ssh
    target: 127.0.0.1:2222
YAML
vx_node 2 b <<YAML || exit 1
listen: ["[::]:4242"]
socks: 127.0.0.1:1080
bootstrap: ["[fd00:5::1]:4242"]
YAML

SSH=(ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
    -o ConnectTimeout=20 -i "$VX_TMP/clientkey" -o "ProxyCommand=$VX_BLD/vx6-nc %h %p")
SCP=(scp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
    -o ConnectTimeout=20 -i "$VX_TMP/clientkey" -o "ProxyCommand=$VX_BLD/vx6-nc %h %p")

out=$(nsx 2 "${SSH[@]}" "root@ssh.$A.ipv6.vx6" 'echo hello-$((6*7))' 2>"$VX_TMP/ssh1.err")
check "ssh through ssh.<addr>.ipv6.vx6 runs a command" test "$out" = hello-42

named() { [ "$(nsx 2 "${SSH[@]}" root@alice.ssh.vx6 'echo named' 2>>"$VX_TMP/ssh2.err")" = named ]; }
check "ssh through alice.ssh.vx6 (DHT) runs a command" retry 20 named

head -c 100M /dev/urandom >"$VX_TMP/big"
want=$(sha256sum <"$VX_TMP/big" | cut -d' ' -f1)
t0=$(date +%s.%N)
nsx 2 "${SCP[@]}" "$VX_TMP/big" root@alice.ssh.vx6:"$VX_TMP/big.up" 2>"$VX_TMP/scp.err"
up=$?
nsx 2 "${SCP[@]}" root@alice.ssh.vx6:"$VX_TMP/big.up" "$VX_TMP/big.down" 2>>"$VX_TMP/scp.err"
down=$?
t1=$(date +%s.%N)
check "scp 100 MB up and back down succeeds" test $up = 0 -a $down = 0 ||
    cat "$VX_TMP/scp.err"
check "the file that came back has the same SHA-256" \
    test "$(sha256sum <"$VX_TMP/big.down" | cut -d' ' -f1)" = "$want"
echo "# scp 2 x 100 MB through vx6: $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"

sessions=$(vx_ctl b --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["sessions"])')
check "one session to A carried all of it (sessions=$sessions)" test "$sessions" = 1

out=$(nsx 2 "$VX_BLD/vx6-nc" nobody.ssh.vx6 22 </dev/null 2>&1)
rc=$?
check "vx6-nc exits non-zero for a name that does not resolve" test $rc -ne 0
check "vx6-nc says why ($out)" grep -qi "no record\|not found" <<<"$out"
rm -f "$VX_TMP/big" "$VX_TMP/big.up" "$VX_TMP/big.down"
vx_finish

#!/usr/bin/env bash
# hidden_cli.sh — 'vx6 hidden address|list' offline from the key files:
# missing key, --create (mode 0600), stable address, --json, a service
# that is not hidden, usage errors; 'vx6 hidden auth-key' (the public key a
# client gives the owner): from --key FILE, from the hidden_auth entry of an
# ADDRESS, from the node's identity.  Runs as any user, no daemon.
set -u
B=${VX6_BUILDDIR:-$(pwd)}
VX6="$B/vx6"
[ -x "$VX6" ] || { echo "$VX6 is not built"; exit 1; }

tmp=$(mktemp -d /tmp/vx6hs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

cat >"$tmp/vx6.yaml" <<YAML
data_dir: $tmp/data
services:
  - name: web
    target: 127.0.0.1:8080
    hidden: true
  - name: plain
    target: 127.0.0.1:8081
YAML
v() { "$VX6" -c "$tmp/vx6.yaml" "$@"; }

v hidden address web >"$tmp/out" 2>"$tmp/err"
check "no key yet: exit 1" [ $? -eq 1 ]
check "no key yet: says how to create it" grep -q -- "--create web" "$tmp/err"
check "list without keys" grep -q "^web .*(no key yet)" <(v hidden list 2>&1)

a1=$(v hidden address --create web 2>/dev/null)
check "--create: exit 0" [ $? -eq 0 ]
check "address is 56 base32 chars + .vx6 ('$a1')" \
    bash -c "[[ '$a1' =~ ^[a-z2-7]{56}\.vx6$ ]]"
check "key file mode 0600" [ "$(stat -c %a "$tmp/data/hidden/web.key")" = 600 ]
check "key dir mode 0700" [ "$(stat -c %a "$tmp/data/hidden")" = 700 ]
a2=$(v hidden address web 2>/dev/null)
check "address is stable" [ "$a1" = "$a2" ]
a3=$(v hidden address --create web 2>/dev/null)
check "--create keeps an existing key" [ "$a1" = "$a3" ]
check "--json" grep -q "\"address\":\"$a1\"" <(v --json hidden address web)
check "list --json" grep -q "\"name\":\"web\",\"address\":\"$a1\"" <(v hidden list --json)
check "list" grep -q "^web  *$a1\$" <(v hidden list)

v hidden address plain >/dev/null 2>"$tmp/err"
check "not hidden, no key: exit 1" [ $? -eq 1 ]
check "not hidden: warns" grep -q "not a hidden service" "$tmp/err"
v hidden address ../etc >/dev/null 2>&1
check "bad name: exit 1" [ $? -eq 1 ]
v hidden frob >/dev/null 2>&1
check "unknown verb: usage (2)" [ $? -eq 2 ]
v hidden address >/dev/null 2>&1
check "missing name: usage (2)" [ $? -eq 2 ]
chmod 644 "$tmp/data/hidden/web.key"
v hidden address web >/dev/null 2>"$tmp/err"
check "key readable by others: refused" [ $? -eq 1 ]
check "key readable by others: says chmod" grep -q "chmod 600" "$tmp/err"

# auth-key: the client-authorization public key, as `vx6 id` prints it
"$VX6" keygen -o "$tmp/client.key" >/dev/null 2>&1
pk=$("$VX6" id --key "$tmp/client.key" | sed -n 's/^public key: *//p')
check "auth-key --key FILE = vx6 id's public key" [ "$("$VX6" hidden auth-key --key "$tmp/client.key")" = "$pk" ]
check "auth-key --json" grep -q "\"public_key\":\"$pk\"" <("$VX6" hidden auth-key --json --key "$tmp/client.key")
cat >>"$tmp/vx6.yaml" <<YAML
hidden_auth:
  - address: $a1
    key: $tmp/client.key
YAML
check "auth-key ADDRESS (hidden_auth key file)" [ "$(v hidden auth-key "$a1")" = "$pk" ]
check "auth-key ADDRESS without .vx6" [ "$(v hidden auth-key "${a1%.vx6}")" = "$pk" ]
v hidden auth-key >/dev/null 2>"$tmp/err"
check "auth-key, no identity yet: exit 1" [ $? -eq 1 ]
check "auth-key, no identity yet: says so" grep -q "no identity yet" "$tmp/err"
"$VX6" keygen -o "$tmp/data/identity.key" >/dev/null 2>&1
idpk=$("$VX6" id --key "$tmp/data/identity.key" | sed -n 's/^public key: *//p')
check "auth-key (the node's identity)" [ "$(v hidden auth-key)" = "$idpk" ]
other=$("$VX6" -c "$tmp/vx6.yaml" hidden address --create plain 2>/dev/null)
v hidden auth-key "$other" >/dev/null 2>"$tmp/err"
check "auth-key, address without hidden_auth: exit 1" [ $? -eq 1 ]
check "auth-key, address without hidden_auth: says so" grep -q "no hidden_auth entry" "$tmp/err"
v hidden auth-key alice.web >/dev/null 2>&1
check "auth-key, not an address: exit 1" [ $? -eq 1 ]
v hidden auth-key --key "$tmp/client.key" "$a1" >/dev/null 2>&1
check "auth-key --key and ADDRESS: usage (2)" [ $? -eq 2 ]
chmod 644 "$tmp/client.key"
v hidden auth-key "$a1" >/dev/null 2>"$tmp/err"
check "auth-key, key readable by others: refused" [ $? -eq 1 ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

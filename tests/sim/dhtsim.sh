#!/bin/bash
# dhtsim.sh — run the DHT simulator (10,000 nodes) and check lookup success:
# >= 99% with no node removed, >= 90% with 30% of the nodes removed.
set -u
sim="${VX6_BUILDDIR:-.}/tests/sim/dhtsim"
[ -x "$sim" ] || { echo "dhtsim not built: $sim"; exit 99; }

out=$("$sim" -n "${DHTSIM_NODES:-10000}" -r "${DHTSIM_RECORDS:-200}" -l "${DHTSIM_LOOKUPS:-1000}" \
      -s "${DHTSIM_SEED:-1}") || { echo "$out"; echo "FAIL: dhtsim exited with an error"; exit 1; }
echo "$out"

success() {
    echo "$out" | awk -v c="$1" '$1 == "RESULT" && $2 == "churn=" c {
        for (i = 3; i <= NF; i++) if ($i ~ /^success=/) { sub("success=", "", $i); print $i } }'
}
fail=0
check() { # churn minimum
    local s
    s=$(success "$1")
    if [ -z "$s" ]; then
        echo "FAIL: no result for ${1}% removed"; fail=1
    elif awk -v s="$s" -v m="$2" 'BEGIN { exit !(s < m) }'; then
        echo "FAIL: success ${s}% with ${1}% of nodes removed (need >= ${2}%)"; fail=1
    else
        echo "ok: success ${s}% with ${1}% of nodes removed (>= ${2}%)"
    fi
}
check 0 99
check 10 90
check 30 90
exit $fail

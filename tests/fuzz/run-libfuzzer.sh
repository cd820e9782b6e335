#!/bin/bash
# run-libfuzzer.sh SECONDS CRASHDIR BINARY=CORPUS...
#
# Runs each libFuzzer binary for SECONDS over a temporary copy of its seed
# corpus (the repository's corpus is never written to), with the dictionary
# tests/fuzz/<name>.dict when there is one.  A crash, leak,
# sanitizer report or timeout fails the run; the offending input is kept as
# CRASHDIR/<target>-<crash-...> with the fuzzer's log next to it.
set -u

if [ $# -lt 3 ]; then
    echo "usage: $0 SECONDS CRASHDIR BINARY=CORPUS..." >&2
    exit 2
fi
secs=$1
crashes=$2
shift 2

work=$(mktemp -d "${TMPDIR:-/tmp}/vx6-fuzz.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

failed=()
for spec in "$@"; do
    bin=${spec%%=*}
    corpus=${spec#*=}
    name=$(basename "$bin")
    mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
    if [ -d "$corpus" ]; then
        cp -R "$corpus"/. "$work/$name/corpus/"
    else
        echo "$name: no seed corpus at $corpus, starting empty"
    fi
    nseeds=$(find "$work/$name/corpus" -type f | wc -l)
    # tests/fuzz/<target without fuzz_>.dict, next to the corpus directory
    dict=$(dirname "$(dirname "$corpus")")/${name#fuzz_}.dict
    dictopt=()
    [ -f "$dict" ] && dictopt=(-dict="$dict")
    echo "$name: fuzzing for ${secs}s from $nseeds seeds${dictopt:+ with $(basename "$dict")}"
    "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dictopt[@]}" -artifact_prefix="$work/$name/artifacts/" "$work/$name/corpus" \
        >"$work/$name/log" 2>&1
    rc=$?
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$work/$name/log" |
        sed "s/^/  $name: /"
    if [ $rc -ne 0 ]; then
        mkdir -p "$crashes"
        kept=0
        for f in "$work/$name/artifacts"/*; do
            [ -f "$f" ] || continue
            cp "$f" "$crashes/$name-$(basename "$f")"
            echo "  $name: FAILED, input kept as $crashes/$name-$(basename "$f")"
            kept=1
        done
        cp "$work/$name/log" "$crashes/$name.log"
        [ $kept = 1 ] || echo "  $name: FAILED (exit $rc) without an input; see $crashes/$name.log"
        tail -n 30 "$work/$name/log" | sed "s/^/  $name| /"
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing: $# targets, no crash in ${secs}s each"

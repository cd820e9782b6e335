#!/bin/bash
# session.sh — throughput of one stream through a TCP + Noise session against
# plain loopback TCP in the same run, and memory per open stream.
#   tests/bench/session.sh [MiB (2048)] [idle streams (1000)] [chacha]
# Not a timed test: it prints ratios.  The machine may be shared; run twice.
set -e
builddir=${VX6_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=$builddir/tests/bench/session_bench
[ -x "$bin" ] || make -C "$builddir" tests/bench/session_bench >/dev/null
exec "$bin" "${1:-2048}" "${2:-1000}" ${3:+"$3"}

#!/bin/bash
# transport.sh — one stream over loopback through QUIC and TCP + Noise in the
# same run: first-byte latency (cold = with handshake, warm = existing
# session) and bulk throughput, then TCP/QUIC ratios.
#   tests/bench/transport.sh [MiB (256)] [latency rounds (20)]
# Not a timed test: both ends share this process (and the machine may be
# shared with others); run it twice and compare ratios, not absolutes.
set -e
builddir=${VX6_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=$builddir/tests/bench/transport_bench
[ -x "$bin" ] || make -C "$builddir" tests/bench/transport_bench >/dev/null
exec "$bin" "${1:-256}" "${2:-20}"

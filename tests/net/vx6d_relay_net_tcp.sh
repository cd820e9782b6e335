#!/bin/bash
# vx6d_relay_net_tcp.sh — tests/net/vx6d_relay_net.sh with every node on the
# TCP transport (TCP + Noise links instead of QUIC): the same circuits, ssh,
# captures and failover over the other carrier.
VX6_RELAY_TRANSPORT=tcp exec bash "$(dirname "$0")/vx6d_relay_net.sh"

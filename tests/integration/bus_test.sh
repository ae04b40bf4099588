#!/usr/bin/env bash
# Runs tests/integration/bus_itest.c against its own throw-away nats-server.
set -euo pipefail
T=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -js -sd "$T" -a 127.0.0.1 -p "$port" >"$T/nats.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$T"' EXIT
for _ in $(seq 1 50); do
	grep -q "Server is ready" "$T/nats.log" && break
	sleep 0.1
done
"$TL_BUILD_DIR/tests/itest_bus" "nats://127.0.0.1:$port"

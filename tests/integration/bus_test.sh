#!/usr/bin/env bash
# Runs tests/integration/bus_itest.c against its own throw-away nats-server:
# first the full API as an unrestricted client, then core request/reply
# between restricted users (the payouts -> vault reveal pattern): a
# responder with allow_responses answers into the requester's own inbox
# without any publish right on it, and one without allow_responses cannot.
set -euo pipefail
T=$(mktemp -d)
chmod 700 "$T"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for u in req resp mute; do
	python3 -c 'import secrets; print(secrets.token_hex(16))' >"$T/$u.pw"
	chmod 600 "$T/$u.pw"
done
cat >"$T/nats.conf" <<CONF
listen: 127.0.0.1:$port
jetstream { store_dir: "$T/js" }
# Clients without credentials (the first itest_bus run) are "open".
no_auth_user: open
authorization {
  users: [
    { user: open, password: "$(python3 -c 'import secrets; print(secrets.token_hex(16))')" }
    { user: req, password: "$(<"$T/req.pw")",
      permissions: { publish: { allow: ["t.ask"] }, subscribe: { allow: ["_INBOX_req.>"] } } }
    { user: resp, password: "$(<"$T/resp.pw")",
      permissions: { publish: { allow: ["t.other"] }, subscribe: { allow: ["t.ask"] },
                     allow_responses: true } }
    { user: mute, password: "$(<"$T/mute.pw")",
      permissions: { publish: { allow: ["t.other"] }, subscribe: { allow: ["t.ask"] } } }
  ]
}
CONF
nats-server -c "$T/nats.conf" >"$T/nats.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$T"' EXIT
ready=0
for _ in $(seq 1 100); do
	if grep -q "Server is ready" "$T/nats.log"; then ready=1; break; fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ((!ready)); then
	cat "$T/nats.log" >&2
	echo "bus_test: nats-server did not start" >&2
	exit 1
fi
url="nats://127.0.0.1:$port"
itest=$TL_BUILD_DIR/tests/itest_bus
"$itest" "$url"
"$itest" --reqrep "$url" req "$T/req.pw" _INBOX_req resp "$T/resp.pw" _INBOX_resp t.ask ok
"$itest" --reqrep "$url" req "$T/req.pw" _INBOX_req mute "$T/mute.pw" _INBOX_mute t.ask timeout
# The server refused mute's answer by name (what an operator would see).
log=$(<"$T/nats.log")
[[ $log == *'Publish Violation - User "mute", Subject "_INBOX_req.'* ]] ||
	{ echo "bus_test: no publish violation logged for the responder without allow_responses" >&2; exit 1; }
[[ $log != *'Violation - User "resp"'* && $log != *'Violation - User "req"'* ]] ||
	{ echo "bus_test: unexpected permission violation:" >&2; grep Violation "$T/nats.log" >&2; exit 1; }
echo "bus_test: PASS"

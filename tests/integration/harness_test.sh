#!/usr/bin/env bash
# The harness itself: a node comes up with every stream, consumer and
# bucket, at-rest encryption is on, and the NATS users' allow-lists hold
# (checked against the real server with the raw protocol).
# shellcheck disable=SC2016 # "$JS..." subjects are literal
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup

out=$(tl_streams_check) || tl_fail "tipline streams check: $out"
tl_assert_contains "$out" "all streams, consumers and buckets present" "streams check"

# setup is idempotent
devenv_streams_setup >/dev/null || tl_fail "second streams setup failed"

grep -q 'Encryption: *ChaCha20-Poly1305' "$TL_LOG_NATS" || tl_fail "JetStream encryption at rest is off"
grep -q "Listening for client connections on 127.0.0.1:$NATS_PORT" "$TL_LOG_NATS" ||
	tl_fail "nats-server is not listening on loopback only"

# try USER OP SUBJECT EXPECTED(allowed|denied)
try() {
	local rc=0
	tl_nats_try "$1" "$2" "$3" 2>"$T/try.err" || rc=$?
	case "$4:$rc" in
	allowed:0 | denied:3) ;;
	*) tl_fail "$1 $2 $3: expected $4, got rc=$rc ($(<"$T/try.err"))" ;;
	esac
}

# intake publishes deposits and leads, reads only its own inbox.
try intake pub tl.deposit.report allowed
try intake pub tl.lead.120101 allowed
try intake sub _INBOX_intake.x allowed
try intake sub 'tl.lead.>' denied
try intake sub 'tl.deposit.>' denied
try intake sub '_INBOX.>' denied
try intake sub '_INBOX_vault.>' denied
try intake pub tl.event.120101.x.y denied
try intake pub '$JS.API.STREAM.CREATE.TL_LEADS' denied
try intake pub '$JS.API.STREAM.PURGE.TL_LEADS' denied
try intake pub '$JS.API.STREAM.MSG.GET.TL_DEPOSITS' denied
try intake pub '$JS.API.CONSUMER.MSG.NEXT.TL_DEPOSITS.vault' denied
# ... and sealed payee claims, but speaks for neither the vault nor payouts.
try intake pub tl.deposit.claim allowed
try intake pub tl.payee.result denied
try intake pub tl.vault.reveal denied
try intake sub tl.vault.reveal denied

# vault pulls its own consumer and nothing else.
try vault pub '$JS.API.CONSUMER.MSG.NEXT.TL_DEPOSITS.vault' allowed
try vault sub _INBOX_vault.x allowed
try vault pub tl.lead.120101 denied
try vault pub tl.deposit.report denied
try vault sub 'tl.lead.>' denied
try vault sub '_INBOX_intake.>' denied
try vault pub '$JS.API.STREAM.MSG.GET.TL_LEADS' denied
try vault pub '$JS.API.CONSUMER.DELETE.TL_DEPOSITS.vault' denied
# ... publishes claim results and serves reveal requests, but has no
# standing right on payouts' inbox (it answers through allow_responses).
try vault pub tl.payee.result allowed
try vault sub tl.vault.reveal allowed
try vault pub tl.vault.reveal denied
try vault pub '_INBOX_payouts.x' denied
try vault sub '_INBOX_payouts.>' denied
try vault pub '$KV.TL_STATUS.x' denied

# payouts pulls its three durables, writes receipt status, asks the vault.
try payouts pub '$JS.API.CONSUMER.MSG.NEXT.TL_LEADS.payouts-leads' allowed
try payouts pub '$JS.API.CONSUMER.MSG.NEXT.TL_EVENTS.payouts-events' allowed
try payouts pub '$JS.API.CONSUMER.MSG.NEXT.TL_PAYEES.payouts-payees' allowed
try payouts pub tl.vault.reveal allowed
try payouts sub _INBOX_payouts.x allowed
try payouts pub '$JS.API.CONSUMER.MSG.NEXT.TL_DEPOSITS.vault' denied
try payouts pub '$JS.API.CONSUMER.MSG.NEXT.TL_LEADS.district-120101' denied
try payouts pub '$JS.API.STREAM.MSG.GET.TL_DEPOSITS' denied
try payouts pub tl.lead.120101 denied
try payouts pub tl.event.120101.x.y denied
try payouts pub tl.payee.result denied
try payouts pub tl.deposit.claim denied
try payouts pub '$KV.TL_CLAIMS.120101.x' denied
try payouts pub '$KV.TL_IDEM.x' denied
try payouts pub '$JS.API.CONSUMER.DELETE.TL_EVENTS.payouts-events' denied
try payouts sub tl.vault.reveal denied
try payouts sub 'tl.deposit.>' denied
try payouts sub '_INBOX_vault.>' denied
try payouts sub '_INBOX.>' denied

# A district node neither asks the vault nor writes reporter status.
try district-120101 pub tl.event.120101.x.y allowed
try district-120101 pub tl.vault.reveal denied
try district-120101 pub '$KV.TL_STATUS.x' denied
try district-120101 pub tl.payee.result denied
try district-120101 sub tl.vault.reveal denied

# The allow-lists cover what the daemons' code really does (a missing
# right would show only as a timeout): payouts' request reaches the vault
# and the answer comes back into _INBOX_payouts; payouts pulls and acks
# each durable (every stream got a message above) and puts/gets status.
itest=$TL_BUILD_DIR/tests/itest_bus
tl_need "$itest"
out=$("$itest" --reqrep "$NATS_URL" payouts "$TL_KEYS/nats-payouts.pw" _INBOX_payouts \
	vault "$TL_KEYS/nats-vault.pw" _INBOX_vault tl.vault.reveal ok 2>&1) ||
	tl_fail "payouts -> vault request/reply: $out"
for pair in TL_LEADS:payouts-leads TL_EVENTS:payouts-events TL_PAYEES:payouts-payees; do
	out=$("$itest" --pull "$NATS_URL" payouts "$TL_KEYS/nats-payouts.pw" _INBOX_payouts \
		"${pair%%:*}" "${pair#*:}" 2>&1) || tl_fail "payouts pull ${pair/:/\/}: $out"
done
# The durables keep their position: acked, nothing comes again ... until
# `tipline streams replay payouts` recreates them (rebuilding payouts'
# database from the streams).
if out=$("$itest" --pull "$NATS_URL" payouts "$TL_KEYS/nats-payouts.pw" _INBOX_payouts \
	TL_EVENTS payouts-events 2>&1); then
	tl_fail "an acked event was delivered again: $out"
fi
out=$("$TL_BIN_CLI" streams replay payouts -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" 2>&1) ||
	tl_fail "streams replay payouts: $out"
tl_assert_contains "$out" "consumer TL_PAYEES/payouts-payees reset" "streams replay payouts"
out=$("$itest" --pull "$NATS_URL" payouts "$TL_KEYS/nats-payouts.pw" _INBOX_payouts \
	TL_EVENTS payouts-events 2>&1) || tl_fail "no event delivered again after replay: $out"
out=$("$itest" --kv "$NATS_URL" payouts "$TL_KEYS/nats-payouts.pw" _INBOX_payouts TL_STATUS harness 2>&1) ||
	tl_fail "payouts TL_STATUS put/get: $out"

# admin may do anything.
try admin sub 'tl.lead.>' allowed
try admin pub '$JS.API.STREAM.INFO.TL_LEADS' allowed

# The production list (deploy/nats/users.conf) grants exactly what the
# generated development list grants, user by user, and nats-server accepts
# the production config (every password variable it names must be set).
out=$(python3 - "$T/etc/nats.conf" "$TL_SRC_DIR/deploy/nats/users.conf" <<'EOF'
import re, sys
def users(path):
    text = re.sub(r"#[^\n]*", "", open(path).read())
    out = {}
    for chunk in re.split(r"\buser:\s*", text)[1:]:
        name = re.match(r"[\w-]+", chunk).group(0)
        chunk = re.split(r"\n\s*\{\s*\n?\s*user:", chunk)[0]
        def lst(kind):
            m = re.search(kind + r":\s*\{\s*allow:\s*\[(.*?)\]", chunk, re.S)
            return sorted(re.findall(r'"([^"]*)"', m.group(1))) if m else None
        out[name] = (lst("publish"), lst("subscribe"), "allow_responses: true" in chunk)
    return out
dev, prod = users(sys.argv[1]), users(sys.argv[2])
bad = [u for u in sorted(set(dev) | set(prod)) if dev.get(u) != prod.get(u)]
for u in bad:
    print("%s: dev %s / deploy %s" % (u, dev.get(u), prod.get(u)))
print("users compared: %d" % len(dev))
sys.exit(1 if bad or len(dev) < 21 else 0)
EOF
) || tl_fail "deploy/nats/users.conf differs from scripts/devenv.sh: $out"
out=$(
	for f in "$TL_KEYS"/nats-*.pw; do
		u=${f##*/nats-}
		u=${u%.pw}
		u=${u^^}
		export "TL_NATS_PW_${u//-/_}=\"x\""
	done
	export TL_JS_KEY='"x"'
	cd "$TL_SRC_DIR/deploy/nats" && nats-server -t -c nats-server.conf 2>&1
) || tl_fail "nats-server rejects deploy/nats/nats-server.conf: $out"

# A wrong password is refused.
printf 'wrong-password\n' >"$T/keys/nats-bogus.pw"
chmod 600 "$T/keys/nats-bogus.pw"
rc=0
tl_nats_try bogus sub x 2>/dev/null || rc=$?
tl_assert_eq 4 "$rc" "login with an unknown user"

# The server logged the violations (operators look for this line).
grep -q 'Subscription Violation - User "intake", Subject "tl.lead.>"' "$TL_LOG_NATS" ||
	tl_fail "no permissions violation logged for intake's subscription"
grep -q 'Publish Violation - User "vault", Subject "tl.lead.120101"' "$TL_LOG_NATS" ||
	tl_fail "no permissions violation logged for vault's publish"
grep -q 'Publish Violation - User "payouts", Subject "tl.payee.result"' "$TL_LOG_NATS" ||
	tl_fail "no permissions violation logged for payouts' publish"

# The intake publish above landed in TL_LEADS (allowed) and is readable by admin.
dump=$(tl_stream_dump TL_LEADS) || tl_fail "stream-dump TL_LEADS failed"
tl_assert_contains "$dump" "tl.lead.120101" "TL_LEADS dump"

# A restart keeps the (encrypted) store.
tl_stop_nats
tl_start_nats
out=$(tl_streams_check) || tl_fail "streams missing after nats-server restart: $out"

tl_pass

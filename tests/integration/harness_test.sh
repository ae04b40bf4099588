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

# vault pulls its own consumer and nothing else.
try vault pub '$JS.API.CONSUMER.MSG.NEXT.TL_DEPOSITS.vault' allowed
try vault sub _INBOX_vault.x allowed
try vault pub tl.lead.120101 denied
try vault pub tl.deposit.report denied
try vault sub 'tl.lead.>' denied
try vault sub '_INBOX_intake.>' denied
try vault pub '$JS.API.STREAM.MSG.GET.TL_LEADS' denied
try vault pub '$JS.API.CONSUMER.DELETE.TL_DEPOSITS.vault' denied

# admin may do anything.
try admin sub 'tl.lead.>' allowed
try admin pub '$JS.API.STREAM.INFO.TL_LEADS' allowed

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

# The intake publish above landed in TL_LEADS (allowed) and is readable by admin.
dump=$(tl_stream_dump TL_LEADS) || tl_fail "stream-dump TL_LEADS failed"
tl_assert_contains "$dump" "tl.lead.120101" "TL_LEADS dump"

# A restart keeps the (encrypted) store.
tl_stop_nats
tl_start_nats
out=$(tl_streams_check) || tl_fail "streams missing after nats-server restart: $out"

tl_pass

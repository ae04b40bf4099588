#!/usr/bin/env bash
# Each district node has its own NATS user.  District A's credentials
# cannot read B's leads (B's consumers, the lead subjects, B's inbox),
# cannot publish B's events or transfer messages in B's name, cannot touch
# B's claims, and cannot inject leads anywhere.  Checked against the real
# server with the raw protocol (tl_nats_try), and end to end: a node
# configured for B but holding A's password is refused at login.
# shellcheck disable=SC2016 # "$JS..." subjects are literal
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
A=120101 B=120102

try() {
	local rc=0
	tl_nats_try "$1" "$2" "$3" 2>"$T/try.err" || rc=$?
	case "$4:$rc" in
	allowed:0 | denied:3) ;;
	*) tl_fail "$1 $2 $3: expected $4, got rc=$rc ($(<"$T/try.err"))" ;;
	esac
}
u=district-$A

# Its own work: allowed.
try "$u" pub "\$JS.API.CONSUMER.MSG.NEXT.TL_LEADS.district-$A" allowed
try "$u" pub "\$JS.API.CONSUMER.MSG.NEXT.TL_XFER.district-$A-xfer" allowed
try "$u" pub "\$JS.API.CONSUMER.MSG.NEXT.TL_EVENTS.district-$A-events" allowed
try "$u" pub "tl.event.$A.0123456789abcdef0123456789abcdef.claimed" allowed
try "$u" pub "tl.xfer.$B.$A.0123456789abcdef0123456789abcdef" allowed
try "$u" pub "\$KV.TL_CLAIMS.$A.0123456789abcdef0123456789abcdef" allowed
try "$u" sub "_INBOX_district_$A.x" allowed

# B's leads: not readable.
try "$u" pub "\$JS.API.CONSUMER.MSG.NEXT.TL_LEADS.district-$B" denied
try "$u" pub "\$JS.API.CONSUMER.INFO.TL_LEADS.district-$B" denied
try "$u" pub "\$JS.API.CONSUMER.MSG.NEXT.TL_XFER.district-$B-xfer" denied
# B's events (rebuild reads only its own, through its own durable).
try "$u" pub "\$JS.API.CONSUMER.MSG.NEXT.TL_EVENTS.district-$B-events" denied
try "$u" pub "\$JS.API.CONSUMER.INFO.TL_EVENTS.district-$B-events" denied
try "$u" pub "\$JS.ACK.TL_EVENTS.district-$B-events.1.1.1.1.1" denied
try "$u" sub "tl.event.$B.>" denied
try "$u" sub "tl.event.$A.>" denied
try "$u" pub '$JS.API.STREAM.MSG.GET.TL_EVENTS' denied
try "$u" pub '$JS.API.CONSUMER.CREATE.TL_EVENTS' denied
try "$u" pub "\$JS.API.CONSUMER.DURABLE.CREATE.TL_EVENTS.spy" denied
try "$u" pub "\$JS.ACK.TL_LEADS.district-$B.1.1.1.1.1" denied
try "$u" sub "tl.lead.$B" denied
try "$u" sub 'tl.lead.>' denied
try "$u" sub "_INBOX_district_$B.>" denied
try "$u" sub '_INBOX.>' denied
try "$u" pub '$JS.API.STREAM.MSG.GET.TL_LEADS' denied
try "$u" pub '$JS.API.STREAM.MSG.GET.KV_TL_CLAIMS' denied
try "$u" pub "\$JS.API.DIRECT.GET.KV_TL_CLAIMS.\$KV.TL_CLAIMS.$B.0123456789abcdef0123456789abcdef" denied
try "$u" pub '$JS.API.CONSUMER.CREATE.TL_LEADS' denied
try "$u" pub "\$JS.API.CONSUMER.DURABLE.CREATE.TL_LEADS.spy" denied
# B's events, B's transfers, B's claims, anyone's leads: not writable.
try "$u" pub "tl.event.$B.0123456789abcdef0123456789abcdef.claimed" denied
try "$u" pub "tl.xfer.$A.$B.0123456789abcdef0123456789abcdef" denied
try "$u" pub "\$KV.TL_CLAIMS.$B.0123456789abcdef0123456789abcdef" denied
try "$u" pub "tl.lead.$B" denied
try "$u" pub "tl.lead.$A" denied
try "$u" pub 'tl.deposit.report' denied
# The city triage user is a district like the others.
try district-120000 pub "tl.event.$A.0123456789abcdef0123456789abcdef.verdict" denied
try district-120000 pub "\$JS.API.CONSUMER.MSG.NEXT.TL_LEADS.district-$A" denied

# End to end: a node for B that has only A's password cannot log in.
mkdir -m 700 "$T/wrongkeys"
cp "$TL_KEYS/nats-district-$A.pw" "$T/wrongkeys/nats-district-$B.pw"
devenv_write_district_ini wrong "$B"
sed -i "s|^password_dir = .*|password_dir = $T/wrongkeys|" "$T/etc/district-wrong.ini"
"$TL_BIN_DISTRICT" -c "$T/etc/district-wrong.ini" -n >/dev/null || tl_fail "-n should accept the config"
rc=0
"$TL_BIN_DISTRICT_CTL" -c "$T/etc/district-wrong.ini" -d "$B" -u x list all >/dev/null 2>"$T/wrong.err" || rc=$?
tl_assert_eq 1 "$rc" "node for $B with $A's password"
grep -qi "denied\|auth" "$T/wrong.err" || tl_fail "no authentication error: $(<"$T/wrong.err")"

grep -q "Publish Violation - User \"district-$A\", Subject \"tl.event.$B." "$TL_LOG_NATS" ||
	tl_fail "the server did not log A's attempt to publish B's event"
tl_pass

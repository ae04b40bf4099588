#!/usr/bin/env bash
# Behind the reverse proxy (every request from 127.0.0.1): with
# trusted_proxies = 127.0.0.1 each reporter named in X-Forwarded-For has
# their own receipt-lookup bucket, on the JSON API and the /status page
# alike, and what a client writes left of its own address cannot move it
# to another bucket; without trusted_proxies the header is ignored and
# everyone shares the proxy's bucket.  The forwarded addresses never reach
# the log.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
tl_setup

# set_intake KEY=VALUE...: the generated config's [intake] section plus
# these keys (a fresh copy each time, so scenarios do not stack).
cp "$TL_INTAKE_INI" "$T/etc/intake.base.ini"
set_intake() {
	local extra="" kv
	for kv in "$@"; do extra+="${kv%%=*} = ${kv#*=}"$'\n'; done
	awk -v extra="$extra" '{ print } $0 == "[intake]" { printf "%s", extra }' \
		"$T/etc/intake.base.ini" >"$TL_INTAKE_INI"
}

# lookup XFF [PATH]: GET a receipt as the client the proxy names; sets
# TL_HTTP_STATUS.  XFF "-" sends no header.
lookup() {
	local xff=$1 path=${2:-/api/v1/receipts/$digits}
	if [[ $xff == - ]]; then
		tl_http GET "$path" >/dev/null
	else
		tl_http GET "$path" -H "X-Forwarded-For: $xff" >/dev/null
	fi
}

set_intake trusted_proxies=127.0.0.1 receipt_lookups_per_minute=3
tl_start_intake
tl_post_report '{"text":"东丽区某小区地下室有人私接燃气管道。","district":"120110"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report"
receipt=$(tl_json_get "$TL_HTTP_BODY" receipt)
digits=${receipt// /}

# nginx's $proxy_add_x_forwarded_for appends the address it saw.
for i in 1 2 3; do
	lookup 10.0.0.1
	tl_assert_eq 200 "$TL_HTTP_STATUS" "10.0.0.1 lookup $i"
done
lookup 10.0.0.1
tl_assert_eq 429 "$TL_HTTP_STATUS" "10.0.0.1 lookup 4: its bucket is empty"
tl_assert_contains "$TL_HTTP_BODY" '"error":"rate_limited"' "429 body"
# The status page shares the lookup bucket, per reporter too.
lookup 10.0.0.1 "/status?receipt=$digits"
tl_assert_eq 429 "$TL_HTTP_STATUS" "10.0.0.1 status page"
# A client cannot pick a fresh bucket by writing one in front of its own
# address, nor by naming our proxy.
lookup "10.0.0.9, 10.0.0.1"
tl_assert_eq 429 "$TL_HTTP_STATUS" "spoofed entry left of 10.0.0.1"
lookup "127.0.0.1, 10.0.0.1, 127.0.0.1"
tl_assert_eq 429 "$TL_HTTP_STATUS" "10.0.0.1 behind two of our proxies"

# Someone else behind the same proxy is not affected.
lookup 10.0.0.2
tl_assert_eq 200 "$TL_HTTP_STATUS" "10.0.0.2 after 10.0.0.1 ran out"
tl_assert_eq received "$(tl_json_get "$TL_HTTP_BODY" status)" "10.0.0.2 answer"
lookup "10.0.0.1, 10.0.0.2"
tl_assert_eq 200 "$TL_HTTP_STATUS" "10.0.0.2 claiming to forward for 10.0.0.1"
lookup 10.0.0.2 "/status?receipt=$digits"
tl_assert_eq 200 "$TL_HTTP_STATUS" "10.0.0.2 status page"
lookup 2001:db8::2
tl_assert_eq 200 "$TL_HTTP_STATUS" "IPv6 client"

# Garbage and no header count under the proxy's own address: one bucket
# of 3 that a client cannot escape by writing nonsense.
for xff in - x "10.0.0.3:80"; do
	lookup "$xff"
	tl_assert_eq 200 "$TL_HTTP_STATUS" "peer bucket: $xff"
done
lookup "not-an-address"
tl_assert_eq 429 "$TL_HTTP_STATUS" "garbage shares the peer's bucket"
lookup 10.0.0.3
tl_assert_eq 200 "$TL_HTTP_STATUS" "10.0.0.3 still has its own bucket"
tl_stop_intake

# Without trusted_proxies the header is the client's word only: ignored.
set_intake receipt_lookups_per_minute=3
tl_start_intake
for i in 1 2 3; do
	lookup "10.0.0.$i"
	tl_assert_eq 200 "$TL_HTTP_STATUS" "untrusted lookup $i"
done
lookup 10.0.0.4
tl_assert_eq 429 "$TL_HTTP_STATUS" "untrusted: one shared bucket"
lookup "10.0.0.5, 10.0.0.6"
tl_assert_eq 429 "$TL_HTTP_STATUS" "untrusted: a chain does not help either"
tl_stop_intake

log=$(<"$TL_LOG_INTAKE")
for a in 10.0.0. 2001:db8 "$digits"; do
	tl_assert_not_contains "$log" "$a" "intake log"
done
tl_pass

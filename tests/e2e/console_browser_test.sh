#!/usr/bin/env bash
# The district console in a real browser: Debian's chromium, headless,
# driven by playwright-core (tests/browser/console.mjs).  A responder
# claims a lead posted through the intake API, records two findings and a
# verdict; a second responder in another browser context sees it taken.
# No JavaScript dialog (the tip carries alert() payloads), page error or
# CSP violation may occur.  Screenshots land in T/shots (TL_KEEP=1 keeps
# them).
#
# Skips (exit 0 with a SKIP line) when chromium, node or
# tests/browser/node_modules is missing: `apt-get install chromium` and
# `(cd tests/browser && npm ci)`.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

skip() {
	printf '[%s] SKIP: %s\n' "$TL_TEST_NAME" "$*"
	exit 0
}
[[ -x /usr/bin/chromium ]] || skip "/usr/bin/chromium is not installed (apt-get install chromium)"
command -v node >/dev/null || skip "node is not installed"
[[ -d $TL_SRC_DIR/tests/browser/node_modules/playwright-core ]] ||
	skip "playwright-core is not installed (cd tests/browser && npm ci)"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CON=http://127.0.0.1:$CPORT
PW=correct-horse-battery-1
devenv_write_district_ini br 120118
devenv_district_console br "$CPORT"
export DEVENV_DISTRICT_BIN=$TL_BIN_DISTRICT
devenv_district_user br resp.li responder 120118 "$PW"
devenv_district_user br resp.zhao responder 120118 "$PW"

tl_start_intake
tl_start_district br
tl_wait_for 10 curl -sSf "$CON/login" || tl_fail "console does not answer on $CON"

tl_post_report '{"text":"静海区某厂夜间用中频炉炼钢 <script>alert(1)</script> \"><img src=x onerror=alert(1)> <a href=\"javascript:alert(3)\">x</a>","district":"120118"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report accepted"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
has() { tl_district_ctl br 120118 resp.li responder dump | grep -q "$rid"; }
tl_wait_for 15 has || tl_fail "the lead never became a case"
line=$(tl_district_ctl br 120118 resp.li responder dump | grep "$rid")
lead=${line%% *}

mkdir -p "$T/shots"
CON=$CON LEAD=$lead PW=$PW SHOTS=$T/shots timeout $((120 * TL_SLOW)) \
	node "$TL_SRC_DIR/tests/browser/console.mjs" >"$T/log/browser.log" 2>&1 ||
	{ cat "$T/log/browser.log" >&2; tl_fail "browser flow failed"; }
out=$(tl_district_ctl br 120118 x supervisor get "$lead")
tl_assert_contains "$out" " closed " "core: case closed"
tl_assert_eq 2 "$(grep -c '^finding ' <<<"$out")" "core: two findings"
tl_log "screenshots in $T/shots"
tl_stop_district br
tl_stop_intake
tl_pass

#!/usr/bin/env bash
# The finance console renders every value a user typed inert: markup
# (<script>, "><img onerror>, javascript: links) in the login name, the
# manual amount, the proposal reason and the approval and rejection
# reasons comes back escaped, both when a refused form is shown again and
# when a stored reason is shown on the award page; every page has only the
# console's own tags and relative links; hostile paths and query strings
# answer a plain 404 or are ignored.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS"
CURL=(curl -sS --max-time $((30 * TL_SLOW)))
CON=$PAYOUTS_URL
PW=correct-horse-battery-8
YEAR=$(python3 -c 'import time; print(time.gmtime(time.time() + 8 * 3600).tm_year)')
XSS1='<script>alert(1)</script>'
XSS2='"><img src=x onerror=alert(2)>'
XSS3='<a href="javascript:alert(3)">点我</a> javascript:alert(4)'
ALL="$XSS1 $XSS2 $XSS3"

padd() {
	printf '%s\n' "$PW" | "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" user add "$@" >>"$T/log/useradd.log" 2>&1 ||
		tl_fail "user add $*"
}
padd prop.jh finance_proposer 120118
padd appr.jh finance_approver 120118
padd audit.all auditor all
"$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" budget fund 120118 "$YEAR" 500000 1 >/dev/null || tl_fail "budget fund"

tl_start_intake
tl_start_district
tl_start_payouts

tl_post_report '{"text":"静海区某村有人用中频炉炼钢","district":"120118"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "report accepted"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
has() { tl_district_ctl all 120118 x responder dump | grep -- "$rid" >/dev/null; }
tl_wait_for 20 has || tl_fail "the lead never reached the district"
line=$(tl_district_ctl all 120118 x responder dump | grep "$rid")
lead=${line%% *}
tl_district_ctl all 120118 resp.li responder claim "$lead" >/dev/null || tl_fail "claim"
tl_district_ctl all 120118 resp.li responder verdict "$lead" substantiated 1 10000 running 0 0 >/dev/null ||
	tl_fail "verdict"

login() {
	"${CURL[@]}" -o "$T/page.html" -w '%{http_code}' -c "$T/jar-$1" -b "$T/jar-$1" \
		--data-urlencode "name=$1" --data-urlencode "password=$2" "$CON/login"
}
get() { "${CURL[@]}" -o "$T/page.html" -w '%{http_code}' -b "$T/jar-$1" "$CON$2"; }
post() {
	local u=$1 p=$2
	shift 2
	"${CURL[@]}" -o "$T/page.html" -w '%{http_code}' -b "$T/jar-$u" "$@" "$CON$p"
}
csrf_of() { grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page.html" | sed -n 1p | sed 's/.*value="//; s/"$//'; }
n_checked=0
# inert WHAT: the page holds the escaped payloads and no raw markup, only
# the console's own tags and relative links.
inert() {
	local page
	page=$(cat "$T/page.html")
	tl_assert_contains "$page" '&lt;script&gt;alert(1)&lt;/script&gt;' "$1: escaped script"
	tl_assert_contains "$page" '&quot;&gt;&lt;img src=x onerror=alert(2)&gt;' "$1: escaped img"
	tl_assert_contains "$page" '&lt;a href=&quot;javascript:alert(3)&quot;&gt;' "$1: escaped javascript: link"
	tl_assert_not_contains "$page" '<script' "$1: raw <script"
	tl_assert_not_contains "$page" '<img' "$1: raw <img"
	tl_assert_not_contains "$page" 'onerror=alert(2)>' "$1: raw onerror attribute"
	tl_assert_not_contains "$page" 'href="javascript:' "$1: javascript: href"
	python3 - "$T/page.html" <<'PY' || tl_fail "$1: unexpected tags or links"
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
allowed = {"!DOCTYPE","html","head","meta","title","link","body","header","span","nav","a","form","input",
           "button","main","p","h1","h2","h3","section","dl","dt","dd","article","div","strong","label",
           "select","option","textarea","fieldset","legend","table","thead","tbody","tr","th","td","footer",
           "code"}
for m in re.finditer(r"<(/?)([A-Za-z!][A-Za-z0-9]*)", html):
    if m.group(2) not in allowed:
        print("unexpected tag", m.group(2)); sys.exit(1)
for m in re.finditer(r"<(?:a|link|form)\b[^>]*(?:href|action)=\"([^\"]*)\"", html):
    if not m.group(1).startswith("/"):
        print("unexpected link", m.group(1)); sys.exit(1)
PY
	n_checked=$((n_checked + 1))
}

# ---- the login name ----
tl_assert_eq 401 "$(login "$ALL" wrong-password-123)" "login with a markup name"
inert "login page"

tl_assert_eq 303 "$(login prop.jh "$PW")" "login prop.jh"
tl_assert_eq 303 "$(login appr.jh "$PW")" "login appr.jh"
tl_assert_eq 303 "$(login audit.all "$PW")" "login audit.all"
listed() { get prop.jh / >/dev/null && grep -q "/case/$lead" "$T/page.html"; }
tl_wait_for 30 listed || tl_fail "the substantiated case never reached the proposer's queue"

# ---- the propose form: amount and reason shown again on a refusal ----
get prop.jh "/case/$lead" >/dev/null
csrf=$(csrf_of)
aid=$(grep -o 'name="award_id" value="[0-9a-f]*"' "$T/page.html" | sed 's/.*value="//; s/"$//')
tl_assert_eq 400 "$(post prop.jh "/case/$lead/propose" -d "csrf=$csrf" -d "award_id=$aid" -d amount_mode=manual \
	--data-urlencode "amount_yuan=$XSS1" --data-urlencode "reason=$ALL")" "markup amount"
inert "refused proposal"
tl_assert_contains "$(cat "$T/page.html")" "手工金额格式无效" "amount format message"

# A stored reason: a manual amount with the markup reason.
tl_assert_eq 303 "$(post prop.jh "/case/$lead/propose" -d "csrf=$csrf" -d "award_id=$aid" -d amount_mode=manual \
	-d amount_yuan=12345.67 --data-urlencode "reason=$ALL")" "manual proposal"
tl_assert_eq 200 "$(get audit.all "/award/$aid")" "award page"
inert "award page with the proposal reason"
tl_assert_contains "$(cat "$T/page.html")" "12,345.67" "manual amount in yuan"
tl_assert_contains "$(cat "$T/page.html")" "手工调整" "manual marker"

# ---- the decision form: reason shown again on a refusal, then stored ----
get appr.jh "/award/$aid" >/dev/null
csrf=$(csrf_of)
tl_assert_eq 403 "$(post appr.jh "/award/$aid/decide" -d "csrf=$csrf" -d decision=reject \
	-d password=not-my-password-1 --data-urlencode "reason=$ALL")" "reject with a wrong password"
inert "refused decision"
tl_assert_eq 303 "$(post appr.jh "/award/$aid/decide" -d "csrf=$csrf" -d decision=reject -d "password=$PW" \
	--data-urlencode "reason=$ALL")" "reject"
tl_assert_eq 200 "$(get audit.all "/award/$aid")" "award page after the rejection"
inert "award page with the rejection reason"
tl_assert_contains "$(cat "$T/page.html")" "已驳回" "rejected"

# ---- hostile paths and query strings ----
tl_assert_eq 404 "$(get audit.all "/case/%3Cscript%3Ealert(1)%3C%2Fscript%3E")" "markup case id"
tl_assert_not_contains "$(cat "$T/page.html")" "alert(1)" "404 page echoes the path"
tl_assert_eq 404 "$(get audit.all "/award/$aid/%3Cimg%3E")" "markup action"
tl_assert_eq 200 "$(get audit.all "/ledger?page=%3Cscript%3E")" "markup page number"
tl_assert_not_contains "$(cat "$T/page.html")" "<script" "ledger echoes the query"
tl_assert_eq 5 "$n_checked" "pages checked for markup"

for canary in "$PW" not-my-password-1 alert; do
	! grep -q -- "$canary" "$TL_LOG_PAYOUTS" || tl_fail "payouts log contains '$canary'"
done
tl_stop_payouts
tl_stop_district
tl_stop_intake
tl_pass

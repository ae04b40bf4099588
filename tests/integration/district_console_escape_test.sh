#!/usr/bin/env bash
# The district console (docs/console.md) through real HTTP with curl and a
# cookie jar: tips full of markup posted through the intake API render
# inert (escaped, never raw); login failure and lock-out; CSRF missing or
# wrong is refused and changes nothing; a responder of one district gets
# the same 404 for another district's case as for a lead that does not
# exist; a claim through the console is a real claim (the core's queue
# shows it); strict security headers on every page.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL"
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CURL=(curl -sS --max-time $((20 * TL_SLOW)))
CON=http://127.0.0.1:$CPORT
PW=correct-horse-battery-1
devenv_write_district_ini hx 120118,120101
devenv_district_console hx "$CPORT"
export DEVENV_DISTRICT_BIN=$TL_BIN_DISTRICT
devenv_district_user hx resp.li responder 120118 "$PW"
devenv_district_user hx resp.zhao responder 120118 "$PW"
devenv_district_user hx resp.hp responder 120101 "$PW"
devenv_district_user hx lock.me responder 120118 "$PW"
# A duplicate user is refused.
if printf '%s\n' "$PW" | "$TL_BIN_DISTRICT" -c "$T/etc/district-hx.ini" user add resp.li responder 120118 2>/dev/null; then
	tl_fail "a second resp.li was accepted"
fi

tl_start_intake
tl_start_district hx
tl_wait_for 10 "${CURL[@]}" -f "$CON/login" || tl_fail "console does not answer on $CON"

XSS1='<script>alert(1)</script>'
XSS2='"><img src=x onerror=alert(1)>'
XSS3='<a href="javascript:alert(3)">点我</a> javascript:alert(4)'
body=$(python3 -c 'import json,sys; print(json.dumps({"text": "静海区某厂夜间炼钢 "+sys.argv[1]+" "+sys.argv[2]+" "+sys.argv[3]+" 联系我 13912345678", "location": sys.argv[2], "district": "120118"}))' "$XSS1" "$XSS2" "$XSS3")
tl_post_report "$body" >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "markup report accepted"
rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
tl_post_report '{"text":"西青区某村有人用中频炉炼钢，晚上冒黑烟","district":"120101"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "120101 report accepted"
rid_b=$(tl_json_get "$TL_HTTP_BODY" report_id)

ctl() { tl_district_ctl hx "$@"; }
has() { ctl 120118 resp.li responder dump | grep -- "$1" >/dev/null; }
has_b() { ctl 120101 resp.hp responder dump | grep -- "$1" >/dev/null; }
tl_wait_for 15 has "$rid" || tl_fail "the markup lead never became a case"
tl_wait_for 15 has_b "$rid_b" || tl_fail "the 120101 lead never became a case"
line=$(ctl 120118 resp.li responder dump | grep "$rid")
lead=${line%% *}
line=$(ctl 120101 resp.hp responder dump | grep "$rid_b")
lead_b=${line%% *}

# ---- login ----
login() { # login USER PASSWORD JAR -> prints the HTTP status
	"${CURL[@]}" -o "$T/login.html" -w '%{http_code}' -c "$3" -b "$3" \
		--data-urlencode "name=$1" --data-urlencode "password=$2" "$CON/login"
}
csrf_of() { grep -o 'name="csrf" value="[0-9a-f]*"' "$1" | sed -n 1p | sed 's/.*value="//; s/"$//'; }

st=$(login resp.li wrong-password-123 "$T/jar-bad")
tl_assert_eq 401 "$st" "wrong password"
tl_assert_contains "$(cat "$T/login.html")" "用户名或密码错误" "login failure message"
! grep -q tl_session "$T/jar-bad" || tl_fail "a failed login set a session cookie"
st=$(login nobody.here wrong-password-123 "$T/jar-bad")
tl_assert_eq 401 "$st" "unknown user"
for _ in 1 2 3 4 5; do login lock.me wrong-password-123 "$T/jar-bad" >/dev/null; done
st=$(login lock.me "$PW" "$T/jar-bad")
tl_assert_eq 401 "$st" "locked-out user with the right password"
tl_log "login failure and lock-out refused"

st=$(login resp.li "$PW" "$T/jar")
tl_assert_eq 303 "$st" "login"
grep -q tl_session "$T/jar" || tl_fail "no session cookie after login"
hdrs=$("${CURL[@]}" -D - -o "$T/queue.html" -b "$T/jar" "$CON/")
tl_assert_contains "$hdrs" "200" "queue status"
for h in "Content-Security-Policy: default-src 'none'" "X-Frame-Options: DENY" "X-Content-Type-Options: nosniff" \
	"Referrer-Policy: no-referrer" "Cache-Control: no-store" "Content-Type: text/html; charset=utf-8"; do
	tl_assert_contains "$hdrs" "$h" "queue headers"
done
tl_assert_contains "$(cat "$T/queue.html")" "$lead" "new queue lists the lead"
tl_assert_not_contains "$(cat "$T/queue.html")" "$lead_b" "120118 queue lists a 120101 lead"

# ---- escaping ----
"${CURL[@]}" -o "$T/case.html" -b "$T/jar" "$CON/case/$lead"
page=$(cat "$T/case.html")
tl_assert_contains "$page" '&lt;script&gt;alert(1)&lt;/script&gt;' "escaped script"
tl_assert_contains "$page" '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' "escaped img"
tl_assert_contains "$page" '&lt;a href=&quot;javascript:alert(3)&quot;&gt;' "escaped javascript: link"
tl_assert_not_contains "$page" '<script' "raw <script"
tl_assert_not_contains "$page" '<img' "raw <img"
tl_assert_not_contains "$page" 'onerror=alert(1)>' "raw onerror attribute"
tl_assert_not_contains "$page" 'href="javascript:' "javascript: href"
tl_assert_not_contains "$page" '13912345678' "phone number in the page"
tl_assert_contains "$page" '已移除 1 个手机号' "redaction summary"
tl_assert_contains "$page" '举报人选择的辖区' "route rule"
# Every tag in the page is one of ours.
python3 - "$T/case.html" <<'PY' || tl_fail "unexpected tags in the case page"
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
allowed = {"!DOCTYPE","html","head","meta","title","link","body","header","span","nav","a","form","input",
           "button","main","p","h1","h2","h3","section","dl","dt","dd","article","div","strong","label",
           "select","option","textarea","fieldset","legend","table","thead","tbody","tr","th","td","footer"}
for m in re.finditer(r"<(/?)([A-Za-z!][A-Za-z0-9]*)", html):
    if m.group(2) not in allowed:
        print("unexpected tag", m.group(2)); sys.exit(1)
for m in re.finditer(r"<a [^>]*href=\"([^\"]*)\"", html):
    if not m.group(1).startswith("/"):
        print("unexpected link", m.group(1)); sys.exit(1)
PY
tl_log "markup rendered inert"

# ---- CSRF ----
csrf=$(csrf_of "$T/case.html")
[[ ${#csrf} == 64 ]] || tl_fail "no CSRF token in the case page"
st=$("${CURL[@]}" -o "$T/out.html" -w '%{http_code}' -b "$T/jar" -d "x=1" "$CON/case/$lead/claim")
tl_assert_eq 403 "$st" "claim without CSRF token"
tl_assert_contains "$(cat "$T/out.html")" "安全校验失败" "CSRF message"
# The right token with its last digit changed.
if [[ ${csrf:63:1} == 0 ]]; then wrong=${csrf:0:63}1; else wrong=${csrf:0:63}0; fi
st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "csrf=$wrong" "$CON/case/$lead/claim")
tl_assert_eq 403 "$st" "claim with a wrong CSRF token"
st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf&csrf=$csrf" "$CON/case/$lead/claim")
tl_assert_eq 400 "$st" "claim with two CSRF fields"
tl_assert_contains "$(ctl 120118 resp.li responder dump | grep "$lead")" " new " "case still new after refused claims"
tl_assert_not_contains "$(tl_stream_dump TL_EVENTS)" "tl.event.120118.$lead.claimed" "no claimed event"
# Logout needs the token too.
st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "x=1" "$CON/logout")
tl_assert_eq 403 "$st" "logout without CSRF token"
tl_log "CSRF refusals changed nothing"

# ---- other district: same answer as a lead that does not exist ----
st_b=$("${CURL[@]}" -o "$T/b.html" -w '%{http_code}' -b "$T/jar" "$CON/case/$lead_b")
st_x=$("${CURL[@]}" -o "$T/x.html" -w '%{http_code}' -b "$T/jar" "$CON/case/0123456789abcdef0123456789abcdef")
tl_assert_eq 404 "$st_b" "120118 responder opening a 120101 case"
tl_assert_eq 404 "$st_x" "a lead that does not exist"
cmp -s "$T/b.html" "$T/x.html" || tl_fail "other district's case and a missing case answer differently"
st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf" "$CON/case/$lead_b/claim")
tl_assert_eq 404 "$st" "claiming a 120101 case from 120118"
tl_assert_contains "$(ctl 120101 resp.hp responder dump | grep "$lead_b")" " new " "120101 case untouched"

# ---- claim ----
st=$("${CURL[@]}" -o /dev/null -D "$T/h" -w '%{http_code}' -b "$T/jar" -d "csrf=$csrf" "$CON/case/$lead/claim")
tl_assert_eq 303 "$st" "claim"
tl_assert_contains "$(cat "$T/h")" "Location: /case/$lead" "claim redirect"
out=$(ctl 120118 resp.li responder list mine 2>&1) || tl_fail "ctl list mine: $out"
tl_assert_contains "$out" "$lead" "core: mine queue"
# Another responder sees it taken and cannot claim it.
login resp.zhao "$PW" "$T/jar2" >/dev/null
"${CURL[@]}" -o "$T/case2.html" -b "$T/jar2" "$CON/case/$lead"
tl_assert_contains "$(cat "$T/case2.html")" "resp.li" "holder shown to another responder"
csrf2=$(csrf_of "$T/case2.html")
st=$("${CURL[@]}" -o "$T/out.html" -w '%{http_code}' -b "$T/jar2" -d "csrf=$csrf2" "$CON/case/$lead/claim")
tl_assert_eq 409 "$st" "second claim"
tl_assert_contains "$(cat "$T/out.html")" "已被其他人认领" "second claim message"

# ---- logout ----
st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" -c "$T/jar" -d "csrf=$csrf" "$CON/logout")
tl_assert_eq 303 "$st" "logout"
st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar" "$CON/")
tl_assert_eq 303 "$st" "queue after logout redirects to login"

# Neither tip text nor identity in the node's log.
for canary in alert 13912345678 炼钢 "$PW"; do
	! grep -q -- "$canary" "$T/log/district-hx.log" || tl_fail "district log contains '$canary'"
done
tl_stop_district hx
tl_stop_intake
tl_pass

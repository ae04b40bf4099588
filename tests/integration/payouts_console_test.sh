#!/usr/bin/env bash
# The finance console (docs/finance-console.md) through real HTTP with curl:
# a tip verified through the district node becomes a substantiated case in
# tipline-payouts; finance users made with `tipline-payouts user add` log
# in; role and scope refusals (403, and 404 for another district's case
# or award, the same page as for one that does not exist); a form without
# its CSRF token and a manual amount above the 500,000 yuan cap are
# refused and change nothing; propose -> approve (district) -> a second
# district approval refused for want of a city approver -> approve (city)
# shows the award approved, the budget reserved and the ledger consistent.
# Helpers are called through tl_wait_for:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

tl_setup
tl_need "$TL_BIN_INTAKE" "$TL_BIN_DISTRICT" "$TL_BIN_DISTRICT_CTL" "$TL_BIN_PAYOUTS"
CURL=(curl -sS --max-time $((30 * TL_SLOW)))
CON=$PAYOUTS_URL
PW=correct-horse-battery-7
YEAR=$(python3 -c 'import time; print(time.gmtime(time.time() + 8 * 3600).tm_year)')

padd() {
	printf '%s\n' "$PW" | "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" user add "$@" >>"$T/log/useradd.log" 2>&1 ||
		tl_fail "user add $*"
}
padd prop.jh finance_proposer 120118
padd prop.xq finance_proposer 120101
padd appr.jh finance_approver 120118
padd appr.jh2 finance_approver 120118
padd appr.xq finance_approver 120101
padd appr.city finance_approver 120000
padd pay.jh finance_payer 120118
padd audit.all auditor all
# One award of 150,000 yuan fits; the budget is shown after it.
"$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" budget fund 120118 "$YEAR" 200000 1 >/dev/null ||
	tl_fail "budget fund"

tl_start_intake
tl_start_district
tl_start_payouts

# ---- two substantiated cases, one per district ----
tl_post_report '{"text":"静海区某村有人用中频炉炼钢，晚上冒黑烟","district":"120118"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "120118 report accepted"
rid_a=$(tl_json_get "$TL_HTTP_BODY" report_id)
tl_post_report '{"text":"和平区某仓库在卖地条钢","district":"120101"}' >/dev/null
tl_assert_eq 201 "$TL_HTTP_STATUS" "120101 report accepted"
rid_b=$(tl_json_get "$TL_HTTP_BODY" report_id)
has() { tl_district_ctl all "$1" x responder dump | grep -- "$2" >/dev/null; }
tl_wait_for 20 has 120118 "$rid_a" || tl_fail "the 120118 lead never reached the district"
tl_wait_for 20 has 120101 "$rid_b" || tl_fail "the 120101 lead never reached the district"
line=$(tl_district_ctl all 120118 x responder dump | grep "$rid_a")
lead_a=${line%% *}
line=$(tl_district_ctl all 120101 x responder dump | grep "$rid_b")
lead_b=${line%% *}
for x in "120118 $lead_a 100000000" "120101 $lead_b 0"; do
	read -r d l fines <<<"$x"
	tl_district_ctl all "$d" resp.li responder claim "$l" >/dev/null || tl_fail "claim $l"
	tl_district_ctl all "$d" resp.li responder verdict "$l" substantiated 2 30000 running 1200 "$fines" >/dev/null ||
		tl_fail "verdict $l"
done

# ---- logins ----
login() { # login USER PASSWORD -> HTTP status; jar T/jar-USER
	"${CURL[@]}" -o "$T/login.html" -w '%{http_code}' -c "$T/jar-$1" -b "$T/jar-$1" \
		--data-urlencode "name=$1" --data-urlencode "password=$2" "$CON/login"
}
get() { # get USER PATH -> HTTP status; body in T/page.html
	"${CURL[@]}" -o "$T/page.html" -w '%{http_code}' -b "$T/jar-$1" "$CON$2"
}
post() { # post USER PATH [curl args] -> HTTP status; body in T/page.html, headers in T/h
	local u=$1 p=$2
	shift 2
	"${CURL[@]}" -o "$T/page.html" -D "$T/h" -w '%{http_code}' -b "$T/jar-$u" "$@" "$CON$p"
}
csrf_of() { grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page.html" | sed -n 1p | sed 's/.*value="//; s/"$//'; }
page() { cat "$T/page.html"; }

tl_assert_eq 401 "$(login prop.jh wrong-password-123)" "wrong password"
tl_assert_contains "$(cat "$T/login.html")" "用户名或密码错误" "login failure message"
for u in prop.jh prop.xq appr.jh appr.jh2 appr.xq appr.city pay.jh audit.all; do
	tl_assert_eq 303 "$(login "$u" "$PW")" "login $u"
done
hdrs=$("${CURL[@]}" -D - -o /dev/null -b "$T/jar-prop.jh" "$CON/")
for h in "Content-Security-Policy: default-src 'none'" "X-Frame-Options: DENY" "X-Content-Type-Options: nosniff" \
	"Referrer-Policy: no-referrer" "Cache-Control: no-store" "Content-Type: text/html; charset=utf-8"; do
	tl_assert_contains "$hdrs" "$h" "home headers"
done

# The proposer's queue lists the case once payouts has the verdict.
listed() { get prop.jh / >/dev/null && grep -q "/case/$lead_a" "$T/page.html"; }
tl_wait_for 30 listed || tl_fail "the substantiated case never reached the proposer's queue"
tl_assert_not_contains "$(page)" "$lead_b" "120118 proposer's queue lists a 120101 case"
tl_assert_contains "$(page)" "150,000.00" "computed amount in the queue"

# ---- scope: another district's case is the same 404 as a missing one ----
tl_assert_eq 404 "$(get prop.xq "/case/$lead_a")" "120101 proposer opening a 120118 case"
cp "$T/page.html" "$T/other.html"
tl_assert_eq 404 "$(get prop.xq /case/0123456789abcdef0123456789abcdef)" "a case that does not exist"
cmp -s "$T/page.html" "$T/other.html" || tl_fail "another district's case and a missing case answer differently"

# ---- the case page and the propose form ----
tl_assert_eq 200 "$(get prop.jh "/case/$lead_a")" "case page"
tl_assert_contains "$(page)" "仍在生产" "production tier"
tl_assert_contains "$(page)" "1,000,000.00" "fines in yuan"
tl_assert_contains "$(page)" "提交奖励提议" "propose button"
csrf=$(csrf_of)
aid=$(grep -o 'name="award_id" value="[0-9a-f]*"' "$T/page.html" | sed 's/.*value="//; s/"$//')
[[ ${#csrf} == 64 && ${#aid} == 32 ]] || tl_fail "no CSRF token or award id in the propose form"
no_awards() {
	get audit.all / >/dev/null
	tl_assert_contains "$(page)" "尚无奖励" "auditor's list after refused proposals"
}
tl_assert_eq 403 "$(post prop.jh "/case/$lead_a/propose" -d "award_id=$aid" -d amount_mode=computed)" \
	"propose without CSRF token"
tl_assert_contains "$(page)" "安全校验失败" "CSRF message"
tl_assert_eq 400 "$(post prop.jh "/case/$lead_a/propose" -d "csrf=$csrf" -d "award_id=$aid" -d amount_mode=manual \
	-d amount_yuan=500000.01 --data-urlencode "reason=加大奖励")" "manual amount above the cap"
tl_assert_contains "$(page)" "上限 500,000.00 元" "cap message"
tl_assert_eq 400 "$(post prop.jh "/case/$lead_a/propose" -d "csrf=$csrf" -d "award_id=$aid" -d amount_mode=manual \
	-d amount_yuan=1000)" "manual amount without a reason"
get appr.jh / >/dev/null
tl_assert_eq 403 "$(post appr.jh "/case/$lead_a/propose" -d "csrf=$(csrf_of)" -d "award_id=$aid" -d amount_mode=computed)" \
	"an approver proposing"
tl_assert_contains "$(page)" "只有财务提议人员可以提议奖励" "proposer-only message"
no_awards

tl_assert_eq 303 "$(post prop.jh "/case/$lead_a/propose" -d "csrf=$csrf" -d "award_id=$aid" -d amount_mode=computed)" \
	"propose"
tl_assert_contains "$(cat "$T/h")" "Location: /award/$aid" "propose redirect"
# The same form again (a double click, a resend): still one award.
tl_assert_eq 303 "$(post prop.jh "/case/$lead_a/propose" -d "csrf=$csrf" -d "award_id=$aid" -d amount_mode=computed)" \
	"propose again"
get audit.all / >/dev/null
tl_assert_eq 1 "$(grep -c "/award/$aid" "$T/page.html")" "awards listed for the auditor"

# ---- approvals ----
tl_assert_eq 404 "$(get appr.xq "/award/$aid")" "120101 approver opening a 120118 award"
cp "$T/page.html" "$T/other.html"
tl_assert_eq 404 "$(get appr.xq /award/0123456789abcdef0123456789abcdef)" "an award that does not exist"
cmp -s "$T/page.html" "$T/other.html" || tl_fail "another district's award and a missing one answer differently"
get appr.jh / >/dev/null
tl_assert_contains "$(page)" "/award/$aid" "approver's queue"
tl_assert_eq 200 "$(get appr.jh "/award/$aid")" "award page"
tl_assert_contains "$(page)" "输入登录密码以签名确认" "password field label"
tl_assert_contains "$(page)" "需两名不同审批人批准，其中一名须为市级审批人" "approval rule"
csrf=$(csrf_of)
get appr.xq / >/dev/null
tl_assert_eq 404 "$(post appr.xq "/award/$aid/decide" -d "csrf=$(csrf_of)" -d decision=approve -d "password=$PW")" \
	"120101 approver deciding a 120118 award"
tl_assert_eq 403 "$(post appr.jh "/award/$aid/decide" -d decision=approve -d "password=$PW")" "decide without CSRF"
tl_assert_eq 403 "$(post appr.jh "/award/$aid/decide" -d "csrf=$csrf" -d decision=approve \
	-d password=not-my-password-1)" "wrong signing password"
tl_assert_contains "$(page)" "登录密码不正确" "wrong password message"
get audit.all "/award/$aid" >/dev/null
tl_assert_contains "$(page)" "尚无审批记录" "no approval after refusals"

tl_assert_eq 303 "$(post appr.jh "/award/$aid/decide" -d "csrf=$csrf" -d decision=approve -d "password=$PW" \
	--data-urlencode "reason=现场核实")" "first approval"
tl_assert_eq 409 "$(post appr.jh "/award/$aid/decide" -d "csrf=$csrf" -d decision=approve -d "password=$PW")" \
	"second decision by the same approver"
tl_assert_contains "$(page)" "只能决定一次" "already decided message"
get appr.jh2 "/award/$aid" >/dev/null
csrf2=$(csrf_of)
tl_assert_eq 403 "$(post appr.jh2 "/award/$aid/decide" -d "csrf=$csrf2" -d decision=approve -d "password=$PW")" \
	"second district approval"
tl_assert_contains "$(page)" "市级审批人" "city approver message"
get appr.city "/award/$aid" >/dev/null
csrf3=$(csrf_of)
tl_assert_eq 303 "$(post appr.city "/award/$aid/decide" -d "csrf=$csrf3" -d decision=approve -d "password=$PW")" \
	"city approval"
tl_assert_eq 200 "$(get pay.jh "/award/$aid")" "payer reads the award"
tl_assert_contains "$(page)" "已批准" "award approved"
tl_assert_contains "$(page)" "appr.jh" "first approver shown"
tl_assert_contains "$(page)" "appr.city" "city approver shown"
tl_assert_contains "$(page)" "现场核实" "approval reason shown"
tl_assert_contains "$(page)" "尚未认领" "claim state of the share"
tl_assert_not_contains "$(page)" "批准并签名" "decision form for a payer"

# ---- roles ----
get pay.jh / >/dev/null
tl_assert_eq 403 "$(post pay.jh "/award/$aid/decide" -d "csrf=$(csrf_of)" -d decision=approve -d "password=$PW")" \
	"payer deciding"
tl_assert_contains "$(page)" "只有财务审批人员可以审批奖励" "approver-only message"
tl_assert_eq 403 "$(get prop.jh /ledger)" "proposer reading the ledger"
tl_assert_eq 403 "$(get appr.jh /batches)" "approver reading batches"
get appr.jh / >/dev/null
csrf=$(csrf_of)
tl_assert_eq 403 "$(post appr.jh /batches/export -d "csrf=$csrf" -d district=120118)" "approver exporting"

# ---- money pages ----
tl_assert_eq 200 "$(get pay.jh /budgets)" "budgets"
tl_assert_contains "$(page)" "200,000.00" "funded"
tl_assert_contains "$(page)" "150,000.00" "reserved"
tl_assert_contains "$(page)" "50,000.00" "remaining"
tl_assert_eq 200 "$(get pay.jh /ledger)" "ledger"
tl_assert_contains "$(page)" "账本一致" "ledger check"
tl_assert_contains "$(page)" "批准预留" "reserve transfer listed"
tl_assert_eq 200 "$(get pay.jh /batches)" "batches"
tl_assert_contains "$(page)" "tipline payfile open" "payfile explanation"
csrf=$(csrf_of)
tl_assert_eq 403 "$(post pay.jh /batches/export -d district=120118)" "export without CSRF"
tl_assert_eq 400 "$(post pay.jh /batches/export -d "csrf=$csrf" -d district=120101)" "export of another district"
# Nobody has claimed yet: nothing to export.
tl_assert_eq 409 "$(post pay.jh /batches/export -d "csrf=$csrf" -d district=120118)" "export with nothing ready"
tl_assert_contains "$(page)" "没有可导出的付款" "nothing to export message"

# ---- the audit chain, for auditors only ----
tl_assert_eq 403 "$(get prop.jh /audit)" "audit page for a proposer"
tl_assert_eq 403 "$(get pay.jh /audit)" "audit page for a payer"
tl_assert_eq 200 "$(get audit.all /audit)" "audit page for the auditor"
tl_assert_contains "$(page)" "审计链完整" "chain verified"
tl_assert_contains "$(page)" "<td>approve</td>" "approvals listed"
tl_assert_contains "$(page)" "<td>propose</td>" "proposals listed"
tl_assert_contains "$(page)" 'href="/audit"' "auditor's navigation"
# One altered byte in an entry's object: the page names the broken entry.
python3 - "$T/payouts/audit.tla" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, encoding="ascii").read().split("\n")
f = lines[0].split("\t")
f[6] = f[6][:-1] + ("0" if f[6][-1] != "0" else "1")
lines[0] = "\t".join(f)
open(p, "w", encoding="ascii").write("\n".join(lines))
PY
tl_assert_eq 200 "$(get audit.all /audit)" "audit page after tampering"
tl_assert_contains "$(page)" "审计链校验失败" "tampering shown"
tl_assert_contains "$(page)" "第 1 条记录" "broken entry named"

# ---- logout ----
get prop.jh / >/dev/null
csrf=$(csrf_of)
tl_assert_eq 303 "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$T/jar-prop.jh" -c "$T/jar-prop.jh" \
	-d "csrf=$csrf" "$CON/logout")" "logout"
tl_assert_eq 303 "$(get prop.jh /)" "home after logout redirects to login"

for canary in "$PW" not-my-password-1; do
	! grep -q -- "$canary" "$TL_LOG_PAYOUTS" || tl_fail "payouts log contains a password"
done
tl_stop_payouts
tl_stop_district
tl_stop_intake
tl_pass

#!/usr/bin/env bash
# Every console action through real HTTP (curl, cookie jar, CSRF token from
# the page): renew, release, claim, two findings, a refused "unfounded"
# verdict by a responder, the substantiated verdict; supervisor take-over
# (the reason is mandatory), reopen; transfer to another district and its
# accept, a refused transfer; merge; the transfer inbox; the deadline
# board (district and city, sorted by a query parameter).  Each success is
# a 303 and shows in the core (tl-district-ctl); each refusal is the page
# again with a Chinese message and changes nothing.
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
devenv_write_district_ini ac 120118,120101,120000
devenv_district_console ac "$CPORT"
export DEVENV_DISTRICT_BIN=$TL_BIN_DISTRICT
devenv_district_user ac resp.li responder 120118 "$PW"
devenv_district_user ac sup.wu supervisor 120118 "$PW"
devenv_district_user ac resp.hp responder 120101 "$PW"
devenv_district_user ac city.wang city_office 120000 "$PW"

tl_start_intake
tl_start_district ac
tl_wait_for 10 "${CURL[@]}" -f "$CON/login" || tl_fail "console does not answer on $CON"

ctl() { tl_district_ctl ac "$@"; }
post_tip() { # post_tip TEXT DISTRICT -> prints the lead id
	local rid line
	tl_post_report "$(python3 -c 'import json,sys; print(json.dumps({"text":sys.argv[1],"district":sys.argv[2]}))' "$1" "$2")" >/dev/null
	[[ $TL_HTTP_STATUS == 201 ]] || tl_fail "report not accepted: $TL_HTTP_STATUS"
	rid=$(tl_json_get "$TL_HTTP_BODY" report_id)
	tl_wait_for 15 bash -c "'$TL_BIN_DISTRICT_CTL' -c '$T/etc/district-ac.ini' -d 120000 -u city.wang -r city_office list all | grep -q . && '$TL_BIN_DISTRICT_CTL' -c '$T/etc/district-ac.ini' -d $2 -u x -r supervisor dump | grep -q $rid" ||
		tl_fail "lead of $rid never became a case"
	line=$(ctl "$2" x supervisor dump | grep "$rid")
	printf '%s\n' "${line%% *}"
}
login() { # login USER JAR
	local st
	st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -c "$2" -b "$2" --data-urlencode "name=$1" \
		--data-urlencode "password=$PW" "$CON/login")
	[[ $st == 303 ]] || tl_fail "login $1: $st"
}
# act JAR PATH [curl -d args...]: POSTs with the CSRF token of the page at
# /case/<lead>; prints the status; the body is in T/out.html.
act() {
	local jar=$1 path=$2 csrf lead
	shift 2
	lead=${path#/case/}
	lead=${lead%%/*}
	"${CURL[@]}" -o "$T/page.html" -b "$jar" "$CON/case/$lead"
	csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page.html" | sed -n 1p | sed 's/.*value="//; s/"$//')
	[[ ${#csrf} == 64 ]] || csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/queue.html" | sed -n 1p | sed 's/.*value="//; s/"$//')
	"${CURL[@]}" -o "$T/out.html" -w '%{http_code}' -b "$jar" --data-urlencode "csrf=$csrf" "$@" "$CON$path"
}
state_of() { ctl "$1" x supervisor get "$2" | sed -n 1p; }

login resp.li "$T/li"
login sup.wu "$T/wu"
login resp.hp "$T/hp"
login city.wang "$T/city"

L1=$(post_tip "静海区甲厂夜间用中频炉炼钢" 120118)
L2=$(post_tip "静海区甲厂又在炼钢，同一个地方" 120118)
L3=$(post_tip "静海区乙厂，其实在和平区" 120118)
L4=$(post_tip "静海区丙厂 转出又被拒" 120118)
tl_log "leads $L1 $L2 $L3 $L4"

# ---- claim, renew, release, claim again ----
tl_assert_eq 303 "$(act "$T/li" "/case/$L1/claim")" "claim"
tl_assert_eq 303 "$(act "$T/li" "/case/$L1/renew")" "renew"
tl_assert_eq 303 "$(act "$T/li" "/case/$L1/release")" "release"
tl_assert_contains "$(state_of 120118 "$L1")" " new " "released case"
tl_assert_eq 409 "$(act "$T/li" "/case/$L1/renew")" "renew without a claim"
tl_assert_contains "$(cat "$T/out.html")" "当前状态不允许" "renew refusal message"
tl_assert_eq 303 "$(act "$T/li" "/case/$L1/claim")" "claim again"

# ---- findings ----
tl_assert_eq 303 "$(act "$T/li" "/case/$L1/finding" -d agency=samr -d check=site_visit -d result=confirmed \
	-d checked=2026-11-20 --data-urlencode "who=张三 李四" --data-urlencode "details=<b>现场</b>有两台中频炉" \
	--data-urlencode $'evidence=照片 001\n照片 002')" "finding 1"
tl_assert_eq 303 "$(act "$T/li" "/case/$L1/finding" -d agency=grid -d check=power_use -d result=confirmed \
	--data-urlencode "who=王五")" "finding 2"
tl_assert_eq 400 "$(act "$T/li" "/case/$L1/finding" -d agency=nasa -d check=site_visit -d result=confirmed -d who=x)" "bad agency"
tl_assert_contains "$(cat "$T/out.html")" "请选择部门" "bad agency message"
tl_assert_eq 400 "$(act "$T/li" "/case/$L1/finding" -d agency=samr -d check=site_visit -d result=confirmed -d who=x -d checked=2099-01-01)" "future date"
out=$(ctl 120118 x supervisor get "$L1")
tl_assert_eq 2 "$(grep -c '^finding ' <<<"$out")" "two findings in the core"
"${CURL[@]}" -o "$T/case.html" -b "$T/li" "$CON/case/$L1"
tl_assert_contains "$(cat "$T/case.html")" "&lt;b&gt;现场&lt;/b&gt;" "finding details escaped"
tl_assert_contains "$(cat "$T/case.html")" "市场监管部门" "agency label"

# ---- verdicts ----
tl_assert_eq 403 "$(act "$T/li" "/case/$L1/verdict" -d outcome=unfounded)" "unfounded by a responder"
tl_assert_contains "$(cat "$T/out.html")" "无权" "unfounded refusal message"
tl_assert_eq 400 "$(act "$T/li" "/case/$L1/verdict" -d outcome=substantiated -d furnaces=2 -d production=)" "substantiated without production"
tl_assert_eq 400 "$(act "$T/li" "/case/$L1/verdict" -d outcome=substantiated -d furnaces=-1 -d production=running)" "negative furnaces"
tl_assert_eq 303 "$(act "$T/li" "/case/$L1/verdict" -d outcome=substantiated -d furnaces=2 -d capacity_tpy=30000 \
	-d production=running -d seized_kg=1200 -d fines_yuan=50000.5 --data-urlencode "notes=已移送")" "verdict"
tl_assert_contains "$(state_of 120118 "$L1")" " closed " "closed after verdict"
tl_assert_contains "$(tl_stream_dump TL_EVENTS)" '"fines_fen":5000050' "fines in fen"

# ---- reopen (supervisor, reason mandatory) ----
tl_assert_eq 403 "$(act "$T/li" "/case/$L1/reopen" --data-urlencode "reason=复查")" "reopen by a responder"
tl_assert_eq 400 "$(act "$T/wu" "/case/$L1/reopen" -d reason=)" "reopen without a reason"
tl_assert_contains "$(cat "$T/out.html")" "必须填写理由" "reopen reason message"
tl_assert_eq 303 "$(act "$T/wu" "/case/$L1/reopen" --data-urlencode "reason=复查")" "reopen"
tl_assert_contains "$(state_of 120118 "$L1")" " new " "reopened"

# ---- supervisor take-over (reason mandatory) ----
tl_assert_eq 303 "$(act "$T/li" "/case/$L2/claim")" "claim L2"
tl_assert_eq 400 "$(act "$T/wu" "/case/$L2/takeover" -d reason=)" "take-over without a reason"
tl_assert_contains "$(state_of 120118 "$L2")" "holder=resp.li" "take-over without reason changed nothing"
tl_assert_eq 403 "$(act "$T/li" "/case/$L2/takeover" --data-urlencode "reason=想要")" "take-over by a responder"
tl_assert_eq 303 "$(act "$T/wu" "/case/$L2/takeover" --data-urlencode "reason=认领人休假")" "take-over"
tl_assert_contains "$(state_of 120118 "$L2")" "holder=sup.wu" "taken over"

# ---- merge L1 into L2 (or the other way: the older report survives) ----
tl_assert_eq 303 "$(act "$T/wu" "/case/$L2/merge" -d "other=$L1")" "merge"
tl_assert_contains "$(state_of 120118 "$L2")$(state_of 120118 "$L1")" " merged " "one of them merged"
tl_assert_eq 400 "$(act "$T/wu" "/case/$L2/merge" -d "other=xyz")" "merge with a bad id"

# ---- transfer 120118 -> 120101, accepted ----
tl_assert_eq 303 "$(act "$T/li" "/case/$L3/claim")" "claim L3"
tl_assert_eq 303 "$(act "$T/li" "/case/$L3/transfer" -d to=120101 -d reason_code=site_elsewhere --data-urlencode "reason=现场在和平区")" "transfer"
in_inbox() { "${CURL[@]}" -b "$T/hp" "$CON/transfers" | grep -q "$L3"; }
tl_wait_for 15 in_inbox || tl_fail "the transfer never reached 120101's inbox"
tl_assert_eq 303 "$(act "$T/hp" "/case/$L3/accept")" "accept"
accepted() { ctl 120101 x supervisor get "$L3" | sed -n 1p | grep -q " 120101 new "; }
tl_wait_for 15 accepted || tl_fail "accepted case not new in 120101: $(ctl 120101 x supervisor get "$L3" | head -1)"

# ---- transfer refused ----
tl_assert_eq 303 "$(act "$T/li" "/case/$L4/claim")" "claim L4"
tl_assert_eq 303 "$(act "$T/li" "/case/$L4/transfer" -d to=120101 -d reason_code=wrong_district)" "transfer L4"
in_inbox4() { "${CURL[@]}" -b "$T/hp" "$CON/transfers" | grep -q "$L4"; }
tl_wait_for 15 in_inbox4 || tl_fail "transfer of L4 never reached 120101"
tl_assert_eq 400 "$(act "$T/hp" "/case/$L4/refuse" -d reason=)" "refuse without a reason"
tl_assert_eq 303 "$(act "$T/hp" "/case/$L4/refuse" --data-urlencode "reason=不在本区")" "refuse"
back() { state_of 120118 "$L4" | grep -q " 120118 claimed \| 120118 new "; }
tl_wait_for 15 back || tl_fail "refused transfer did not come back: $(state_of 120118 "$L4")"

# ---- "unfounded": two agencies' findings and the supervisor's sign-off ----
L5=$(post_tip "静海区丁厂 查无实据" 120118)
tl_assert_eq 303 "$(act "$T/li" "/case/$L5/claim")" "claim L5"
tl_assert_eq 303 "$(act "$T/li" "/case/$L5/finding" -d agency=samr -d check=site_visit -d result=not_found -d who=x)" "L5 finding 1"
tl_assert_eq 409 "$(act "$T/wu" "/case/$L5/verdict" -d outcome=unfounded)" "unfounded with one agency"
tl_assert_eq 303 "$(act "$T/li" "/case/$L5/finding" -d agency=police -d check=interview -d result=not_found -d who=y)" "L5 finding 2"
tl_assert_eq 303 "$(act "$T/wu" "/case/$L5/verdict" -d outcome=unfounded --data-urlencode "notes=两部门均未发现")" "unfounded sign-off"
tl_assert_contains "$(ctl 120118 x supervisor get "$L5")" "verdict=unfounded" "unfounded in the core"

# ---- board ----
"${CURL[@]}" -o "$T/board.html" -b "$T/li" "$CON/board?sort=received"
tl_assert_contains "$(cat "$T/board.html")" "期限看板" "district board"
tl_assert_contains "$(cat "$T/board.html")" "$L4" "district board lists L4"
"${CURL[@]}" -o "$T/city.html" -b "$T/city" "$CON/board?sort=district"
tl_assert_contains "$(cat "$T/city.html")" "和平区" "city board district summary"
tl_assert_contains "$(cat "$T/city.html")" "$L3" "city board lists a 120101 case"
tl_assert_contains "$(cat "$T/city.html")" "$L4" "city board lists a 120118 case"
python3 - "$T/city.html" "$L3" "$L4" <<'PY' || tl_fail "city board not sorted by district"
import sys
h = open(sys.argv[1], encoding="utf-8").read()
i3, i4 = h.rfind(sys.argv[2]), h.rfind(sys.argv[3])
sys.exit(0 if 0 <= i3 < i4 else 1)  # 120101 before 120118
PY
"${CURL[@]}" -o "$T/cityq.html" -b "$T/city" "$CON/"
tl_assert_contains "$(cat "$T/cityq.html")" "期限看板" "city queue page has the board"
# The city office reads every district but acts only on 120000.
st=$(act "$T/city" "/case/$L4/release")
[[ $st == 403 || $st == 404 || $st == 409 ]] || tl_fail "city office acting on a 120118 case: $st"

tl_stop_district ac
tl_stop_intake
tl_pass

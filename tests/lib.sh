# shellcheck shell=bash
# tests/lib.sh - harness for tests/integration/*_test.sh and tests/e2e/*_test.sh.
#
# ctest runs each test with bash from the repository root, with TL_BUILD_DIR
# and TL_SRC_DIR set (TL_SANITIZE=1 in the ASan build).  A test looks like:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   source "${TL_SRC_DIR:-.}/tests/lib.sh"
#   tl_setup                  # keys, configs, nats-server, streams; cleanup on exit
#   tl_start_vault
#   tl_start_intake
#   tl_post_report '{"text":"..."}'
#   tl_assert_eq 201 "$TL_HTTP_STATUS" "report accepted"
#   tl_pass
#
# Every test gets its own folder T (mktemp -d) and its own free loopback
# ports, so tests never share state.  TL_KEEP=1 keeps T for inspection.
# On exit the trap stops every process it started (daemons with SIGTERM,
# then nats-server); a daemon that exits non-zero on SIGTERM (a crash, or
# an ASan/LSan report at exit) fails the test.  When a test fails, the tail
# of each log is printed so that ctest --output-on-failure shows it.
#
# District nodes: tl_start_district/tl_stop_district/tl_kill_district NAME,
# tl_district_ctl (see "district nodes" below).  Payouts:
# tl_start_payouts/tl_stop_payouts/tl_kill_payouts (T/etc/payouts.ini,
# finance console on PAYOUTS_URL; DEVENV_CLAIM_WINDOW_S set before
# tl_setup shortens the claim window).
#
# Exported: T TL_BIN_INTAKE TL_BIN_VAULT TL_BIN_DISTRICT TL_BIN_DISTRICT_CTL TL_BIN_PAYOUTS
#   TL_BIN_PAYOUTS_CTL TL_BIN_CLI NATS_URL NATS_PORT
#   NATS_MON_PORT NATS_MON_URL INTAKE_PORT INTAKE_URL PAYOUTS_PORT PAYOUTS_URL TL_KEYS TL_VAULT_DB
#   TL_PAYOUTS_DB TL_LOG_NATS TL_LOG_VAULT TL_LOG_INTAKE TL_LOG_PAYOUTS TL_VAULT_INI TL_INTAKE_INI
#   TL_PAYOUTS_INI

TL_SRC_DIR=${TL_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TL_BUILD_DIR=${TL_BUILD_DIR:-$TL_SRC_DIR/build}
export TL_SRC_DIR TL_BUILD_DIR
export TL_BIN_CLI=$TL_BUILD_DIR/cli/tipline
export TL_BIN_INTAKE=$TL_BUILD_DIR/intake/tipline-intake
export TL_BIN_VAULT=$TL_BUILD_DIR/vault/tipline-vault
export TL_BIN_DISTRICT=$TL_BUILD_DIR/districts/tipline-district
export TL_BIN_DISTRICT_CTL=$TL_BUILD_DIR/districts/tl-district-ctl
export TL_BIN_PAYOUTS=$TL_BUILD_DIR/payouts/tipline-payouts
export TL_BIN_PAYOUTS_CTL=$TL_BUILD_DIR/payouts/tl-payouts-ctl

# Sanitized binaries start and run several times slower.
if [[ ${TL_SANITIZE:-0} == 1 ]]; then TL_SLOW=3; else TL_SLOW=1; fi

# shellcheck source=scripts/devenv.sh
source "$TL_SRC_DIR/scripts/devenv.sh"

TL_VAULT_PID=""
TL_INTAKE_PID=""
TL_PAYOUTS_PID=""
declare -A TL_DISTRICT_PIDS=()
TL_DAEMON_FAILURES=""
TL_STOP_STATUS=0
TL_TEST_NAME=$(basename "$0" .sh)

tl_log() { printf '[%s] %s\n' "$TL_TEST_NAME" "$*" >&2; }

tl_fail() {
	printf '[%s] FAIL: %s\n' "$TL_TEST_NAME" "$*" >&2
	exit 1
}

tl_pass() {
	printf '[%s] PASS\n' "$TL_TEST_NAME"
	exit 0
}

# tl_assert_eq EXPECTED ACTUAL [WHAT]
tl_assert_eq() {
	[[ $1 == "$2" ]] || tl_fail "${3:-value}: expected '$1', got '$2'"
}

# tl_assert_contains HAYSTACK NEEDLE [WHAT]
tl_assert_contains() {
	[[ $1 == *"$2"* ]] || tl_fail "${3:-text} does not contain '$2'"
}

# tl_assert_not_contains HAYSTACK NEEDLE [WHAT]
tl_assert_not_contains() {
	[[ $1 != *"$2"* ]] || tl_fail "${3:-text} contains '$2'"
}

tl_need() {
	local f
	for f in "$@"; do
		[[ -x $f ]] || tl_fail "$f is not built"
	done
}

# Prints four distinct free loopback ports.  All four sockets are bound
# at once so the kernel cannot hand out the same port twice.
_tl_free_ports() {
	python3 - <<'EOF'
import socket
socks = []
for _ in range(4):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

tl_setup() {
	local ports attempt
	tl_need "$TL_BIN_CLI"
	T=$(mktemp -d "${TMPDIR:-/tmp}/tipline-test.XXXXXX")
	chmod 700 "$T"
	export T
	trap _tl_teardown EXIT
	export TL_KEYS=$T/keys TL_VAULT_DB=$T/vault/vault.db TL_PAYOUTS_DB=$T/payouts/payouts.db
	export TL_LOG_NATS=$T/log/nats.log TL_LOG_VAULT=$T/log/vault.log TL_LOG_INTAKE=$T/log/intake.log
	export TL_LOG_PAYOUTS=$T/log/payouts.log
	export TL_VAULT_INI=$T/etc/vault.ini TL_INTAKE_INI=$T/etc/intake.ini TL_PAYOUTS_INI=$T/etc/payouts.ini
	# shellcheck disable=SC2034 # read by devenv.sh
	DEVENV_STATE=$T DEVENV_CLI=$TL_BIN_CLI DEVENV_SRC=$TL_SRC_DIR
	# shellcheck disable=SC2034
	DEVENV_WAIT_TRIES=$((150 * TL_SLOW))
	devenv_keygen || tl_fail "tipline keygen failed"
	# Another process may grab a port between the probe and nats-server's
	# bind; pick new ports and try again rather than fail.
	for attempt in 1 2 3; do
		ports=$(_tl_free_ports)
		read -r NATS_PORT NATS_MON_PORT INTAKE_PORT PAYOUTS_PORT <<<"$ports"
		# shellcheck disable=SC2034
		DEVENV_NATS_PORT=$NATS_PORT DEVENV_MON_PORT=$NATS_MON_PORT DEVENV_INTAKE_PORT=$INTAKE_PORT
		# shellcheck disable=SC2034
		DEVENV_PAYOUTS_PORT=$PAYOUTS_PORT
		devenv_write_configs
		if devenv_nats_start; then
			break
		fi
		[[ $attempt == 3 ]] && tl_fail "nats-server did not start"
		tl_log "nats-server did not start on port $NATS_PORT; retrying with new ports"
	done
	export NATS_PORT NATS_MON_PORT INTAKE_PORT PAYOUTS_PORT
	export NATS_URL=nats://127.0.0.1:$NATS_PORT
	export NATS_MON_URL=http://127.0.0.1:$NATS_MON_PORT
	export INTAKE_URL=http://127.0.0.1:$INTAKE_PORT
	export PAYOUTS_URL=http://127.0.0.1:$PAYOUTS_PORT
	devenv_streams_setup >"$T/log/streams-setup.log" 2>&1 ||
		{ cat "$T/log/streams-setup.log" >&2; tl_fail "tipline streams setup failed"; }
}

_tl_tail_logs() {
	local f
	for f in "$T"/log/*.log; do
		[[ -s $f ]] || continue
		printf -- '---- last lines of %s ----\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}

# Stops a daemon with SIGTERM and waits; sets TL_STOP_STATUS to its exit
# status.  Not for $(...): only this shell can wait for its children.
_tl_stop_pid() {
	local pid=$1 name=$2 i st=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100 * TL_SLOW; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		tl_log "$name (pid $pid) ignored SIGTERM for $((10 * TL_SLOW)) s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || st=$?
	TL_STOP_STATUS=$st
}

_tl_teardown() {
	local rc=$? st name
	set +e
	trap - EXIT
	for name in "${!TL_DISTRICT_PIDS[@]}"; do
		_tl_stop_pid "${TL_DISTRICT_PIDS[$name]}" "tipline-district($name)"
		st=$TL_STOP_STATUS
		[[ $st == 0 ]] || TL_DAEMON_FAILURES+=" tipline-district-$name(exit $st)"
	done
	if [[ -n $TL_PAYOUTS_PID ]]; then
		_tl_stop_pid "$TL_PAYOUTS_PID" tipline-payouts
		st=$TL_STOP_STATUS
		[[ $st == 0 ]] || TL_DAEMON_FAILURES+=" tipline-payouts(exit $st)"
	fi
	if [[ -n $TL_INTAKE_PID ]]; then
		_tl_stop_pid "$TL_INTAKE_PID" tipline-intake
		st=$TL_STOP_STATUS
		[[ $st == 0 ]] || TL_DAEMON_FAILURES+=" tipline-intake(exit $st)"
	fi
	if [[ -n $TL_VAULT_PID ]]; then
		_tl_stop_pid "$TL_VAULT_PID" tipline-vault
		st=$TL_STOP_STATUS
		[[ $st == 0 ]] || TL_DAEMON_FAILURES+=" tipline-vault(exit $st)"
	fi
	[[ -n ${T:-} ]] && devenv_nats_stop
	if [[ -n $TL_DAEMON_FAILURES ]]; then
		printf '[%s] FAIL: daemons did not exit cleanly on SIGTERM:%s\n' \
			"$TL_TEST_NAME" "$TL_DAEMON_FAILURES" >&2
		((rc)) || rc=1
	fi
	if ((rc)) && [[ -n ${T:-} ]]; then
		_tl_tail_logs
	fi
	if [[ -n ${T:-} ]]; then
		if [[ ${TL_KEEP:-0} == 1 ]]; then
			tl_log "kept $T"
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}

# ---- NATS ----------------------------------------------------------------

tl_stop_nats() { devenv_nats_stop; }

# Restarts nats-server on the same ports and store.
tl_start_nats() { devenv_nats_start || tl_fail "nats-server did not restart"; }

# tl_stream_dump STREAM: "<seq> <subject> <data>" per stored message.
tl_stream_dump() {
	"$TL_BIN_CLI" stream-dump -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw" "$1"
}

tl_streams_check() {
	"$TL_BIN_CLI" streams check -s "$NATS_URL" -u admin -p "$TL_KEYS/nats-admin.pw"
}

# tl_nats_try USER pub|sub SUBJECT
# Speaks the NATS text protocol as USER (password from T/keys) and tries
# one PUB (empty payload) or SUB.  Returns 0 if the server accepted it,
# 3 on a Permissions Violation, 4 on an authorization (login) failure,
# 1 on anything else; the server's -ERR line goes to stderr.
tl_nats_try() {
	local user=$1 op=$2 subject=$3
	TL_PW=$(<"$TL_KEYS/nats-$user.pw") python3 - "$NATS_PORT" "$user" "$op" "$subject" <<'EOF'
import json, os, socket, sys
port, user, op, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
f = s.makefile("rb")
if not f.readline().startswith(b"INFO "):
    sys.exit(1)
conn = {"user": user, "pass": os.environ["TL_PW"], "verbose": False, "pedantic": False,
        "name": "tl-nats-try", "lang": "python", "version": "0", "protocol": 1, "headers": True}
cmd = ("PUB %s 0\r\n\r\n" % subject) if op == "pub" else ("SUB %s 1\r\n" % subject)
s.sendall(("CONNECT %s\r\nPING\r\n%sPING\r\n" % (json.dumps(conn), cmd)).encode())
pongs = 0
while pongs < 2:
    line = f.readline()
    if not line:
        sys.exit(1)
    line = line.strip()
    if line == b"PONG":
        pongs += 1
    elif line == b"PING":
        s.sendall(b"PONG\r\n")
    elif line.startswith(b"-ERR"):
        sys.stderr.write(line.decode(errors="replace") + "\n")
        if b"Permissions Violation" in line:
            sys.exit(3)
        if b"Authorization Violation" in line or b"Authentication" in line:
            sys.exit(4)
        sys.exit(1)
sys.exit(0)
EOF
}

# ---- daemons ---------------------------------------------------------------

_tl_alive_or_fail() {
	local pid=$1 name=$2 log=$3
	if ! kill -0 "$pid" 2>/dev/null; then
		tl_fail "$name exited at startup (see $log)"
	fi
}

# _tl_pull_waiting STREAM DURABLE: true while a pull request of that
# durable is waiting on the server (NATS monitor), i.e. its daemon is
# bound and a message published next is delivered at once.
_tl_pull_waiting() {
	curl -fsS --max-time 1 "$NATS_MON_URL/jsz?consumers=true" 2>/dev/null |
		python3 -c 'import json,sys
d=json.load(sys.stdin)
for a in d.get("account_details",[]):
  for s in a.get("stream_detail",[]):
    for c in s.get("consumer_detail",[]) or []:
      if s["name"]==sys.argv[1] and c["name"]==sys.argv[2] and c.get("num_waiting",0)>0: sys.exit(0)
sys.exit(1)' "$1" "$2" 2>/dev/null
}

tl_start_vault() {
	local i
	tl_need "$TL_BIN_VAULT"
	[[ -z $TL_VAULT_PID ]] || tl_fail "tl_start_vault: vault already running"
	setsid "$TL_BIN_VAULT" -c "$TL_VAULT_INI" >>"$TL_LOG_VAULT" 2>&1 </dev/null &
	TL_VAULT_PID=$!
	# Ready = its pull request is waiting on the vault consumer (NATS
	# monitor), so a report posted next is consumed at once.
	for ((i = 0; i < 100 * TL_SLOW; i++)); do
		_tl_alive_or_fail "$TL_VAULT_PID" tipline-vault "$TL_LOG_VAULT"
		if _tl_pull_waiting TL_DEPOSITS vault; then
			return 0
		fi
		sleep 0.1
	done
	tl_log "tipline-vault is running but has not pulled from TL_DEPOSITS/vault yet"
}

# tl_stop_vault: SIGTERM and wait; fails the test if it does not exit 0.
tl_stop_vault() {
	local st
	[[ -n $TL_VAULT_PID ]] || return 0
	_tl_stop_pid "$TL_VAULT_PID" tipline-vault
	st=$TL_STOP_STATUS
	TL_VAULT_PID=""
	[[ $st == 0 ]] || tl_fail "tipline-vault exited with status $st on SIGTERM"
}

# tl_kill_vault: kill -9, as a crash would.
tl_kill_vault() {
	[[ -n $TL_VAULT_PID ]] || return 0
	kill -KILL "$TL_VAULT_PID" 2>/dev/null || true
	wait "$TL_VAULT_PID" 2>/dev/null || true
	TL_VAULT_PID=""
}

tl_start_intake() {
	tl_need "$TL_BIN_INTAKE"
	[[ -z $TL_INTAKE_PID ]] || tl_fail "tl_start_intake: intake already running"
	setsid "$TL_BIN_INTAKE" -c "$TL_INTAKE_INI" >>"$TL_LOG_INTAKE" 2>&1 </dev/null &
	TL_INTAKE_PID=$!
	tl_wait_http "$INTAKE_URL/healthz" ||
		{ _tl_alive_or_fail "$TL_INTAKE_PID" tipline-intake "$TL_LOG_INTAKE"; tl_fail "intake /healthz never answered 200"; }
}

tl_stop_intake() {
	local st
	[[ -n $TL_INTAKE_PID ]] || return 0
	_tl_stop_pid "$TL_INTAKE_PID" tipline-intake
	st=$TL_STOP_STATUS
	TL_INTAKE_PID=""
	[[ $st == 0 ]] || tl_fail "tipline-intake exited with status $st on SIGTERM"
}

tl_kill_intake() {
	[[ -n $TL_INTAKE_PID ]] || return 0
	kill -KILL "$TL_INTAKE_PID" 2>/dev/null || true
	wait "$TL_INTAKE_PID" 2>/dev/null || true
	TL_INTAKE_PID=""
}

# ---- payouts ----------------------------------------------------------------

# tl_start_payouts: starts tipline-payouts with T/etc/payouts.ini; ready
# once its finance console answers /healthz with 200 and its pull is
# waiting on TL_EVENTS/payouts-events, so a verdict published next is
# consumed at once.
tl_start_payouts() {
	local i code=000
	tl_need "$TL_BIN_PAYOUTS"
	[[ -z $TL_PAYOUTS_PID ]] || tl_fail "tl_start_payouts: payouts already running"
	setsid "$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" >>"$TL_LOG_PAYOUTS" 2>&1 </dev/null &
	TL_PAYOUTS_PID=$!
	for ((i = 0; i < 200 * TL_SLOW; i++)); do
		_tl_alive_or_fail "$TL_PAYOUTS_PID" tipline-payouts "$TL_LOG_PAYOUTS"
		code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 1 "$PAYOUTS_URL/healthz" 2>/dev/null) || code=000
		if [[ $code == 200 ]] && _tl_pull_waiting TL_EVENTS payouts-events; then
			return 0
		fi
		sleep 0.1
	done
	tl_log "tipline-payouts is running but not ready (/healthz: $code; or no pull waiting on TL_EVENTS/payouts-events)"
}

# tl_stop_payouts: SIGTERM and wait; fails the test if it does not exit 0.
tl_stop_payouts() {
	local st
	[[ -n $TL_PAYOUTS_PID ]] || return 0
	_tl_stop_pid "$TL_PAYOUTS_PID" tipline-payouts
	st=$TL_STOP_STATUS
	TL_PAYOUTS_PID=""
	[[ $st == 0 ]] || tl_fail "tipline-payouts exited with status $st on SIGTERM"
}

# tl_kill_payouts: kill -9, as a crash would.
tl_kill_payouts() {
	[[ -n $TL_PAYOUTS_PID ]] || return 0
	kill -KILL "$TL_PAYOUTS_PID" 2>/dev/null || true
	wait "$TL_PAYOUTS_PID" 2>/dev/null || true
	TL_PAYOUTS_PID=""
}

# ---- district nodes ---------------------------------------------------------
#
# A node is named by its config T/etc/district-NAME.ini: "all" (every
# district and 120000) is written by tl_setup; others with
#   devenv_write_district_ini NAME 120101,120102 lease_seconds=2 scan_seconds=1
# Its database is T/district/NAME.db, its log T/log/district-NAME.log.

# Codes a node config serves, space-separated.
_tl_district_codes() {
	local codes
	codes=$(sed -n 's/^districts = //p' "$T/etc/district-$1.ini")
	[[ $codes == all ]] && codes=$DEVENV_DISTRICTS
	printf '%s\n' "${codes//,/ }"
}

# tl_start_district [NAME]: starts the node; ready once every served
# district's lead consumer has been seen with a waiting pull.
tl_start_district() {
	local name=${1:-all} ini log i pid
	ini=$T/etc/district-$name.ini
	log=$T/log/district-$name.log
	tl_need "$TL_BIN_DISTRICT"
	[[ -f $ini ]] || tl_fail "tl_start_district: $ini does not exist (devenv_write_district_ini)"
	[[ -z ${TL_DISTRICT_PIDS[$name]:-} ]] || tl_fail "tl_start_district: $name already running"
	setsid "$TL_BIN_DISTRICT" -c "$ini" >>"$log" 2>&1 </dev/null &
	pid=$!
	TL_DISTRICT_PIDS[$name]=$pid
	: >"$T/run/district-$name.seen"
	for ((i = 0; i < 200 * TL_SLOW; i++)); do
		_tl_alive_or_fail "$pid" "tipline-district($name)" "$log"
		if curl -fsS --max-time 1 "$NATS_MON_URL/jsz?consumers=true" 2>/dev/null |
			python3 -c 'import json,sys
seen=set(open(sys.argv[1]).read().split())
want=set("district-"+c for c in sys.argv[2].split())
d=json.load(sys.stdin)
for a in d.get("account_details",[]):
  for s in a.get("stream_detail",[]):
    for c in s.get("consumer_detail",[]) or []:
      if s["name"]=="TL_LEADS" and c["name"] in want and c.get("num_waiting",0)>0: seen.add(c["name"])
open(sys.argv[1],"w").write(" ".join(sorted(seen)))
sys.exit(0 if want<=seen else 1)' "$T/run/district-$name.seen" "$(_tl_district_codes "$name")" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	tl_log "tipline-district($name) is running but not every district consumer has pulled yet"
}

# tl_stop_district [NAME]: SIGTERM and wait; fails the test unless it exits 0.
tl_stop_district() {
	local name=${1:-all} st
	[[ -n ${TL_DISTRICT_PIDS[$name]:-} ]] || return 0
	_tl_stop_pid "${TL_DISTRICT_PIDS[$name]}" "tipline-district($name)"
	st=$TL_STOP_STATUS
	unset "TL_DISTRICT_PIDS[$name]"
	[[ $st == 0 ]] || tl_fail "tipline-district($name) exited with status $st on SIGTERM"
}

# tl_kill_district [NAME]: kill -9, as a crash would.
tl_kill_district() {
	local name=${1:-all}
	[[ -n ${TL_DISTRICT_PIDS[$name]:-} ]] || return 0
	kill -KILL "${TL_DISTRICT_PIDS[$name]}" 2>/dev/null || true
	wait "${TL_DISTRICT_PIDS[$name]}" 2>/dev/null || true
	unset "TL_DISTRICT_PIDS[$name]"
}

# tl_district_ctl NAME DISTRICT USER ROLE ACTION [ARGS...]: one case action
# through the core, as a console replica (districts/ctl.c); its exit
# status is the action's (0 ok, 3 claimed by another, 4 wrong state, ...).
tl_district_ctl() {
	local name=$1 district=$2 user=$3 role=$4
	shift 4
	"$TL_BIN_DISTRICT_CTL" -c "$T/etc/district-$name.ini" -d "$district" -u "$user" -r "$role" "$@"
}

# tl_wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
tl_wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10 * TL_SLOW; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ---- HTTP ------------------------------------------------------------------

# tl_wait_http URL [SECONDS]: waits until URL answers 200.
tl_wait_http() {
	local url=$1 secs=${2:-$((10 * TL_SLOW))} i
	for ((i = 0; i < secs * 10; i++)); do
		if [[ $(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null) == 200 ]]; then
			return 0
		fi
		if [[ -n $TL_INTAKE_PID ]] && ! kill -0 "$TL_INTAKE_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# tl_http METHOD PATH [curl args...]: prints the body, sets TL_HTTP_STATUS
# and TL_HTTP_BODY.  Call it directly (not in $(...)) to keep the variables;
# in a subshell, tl_last_status still reads the status from T/http_status.
tl_http() {
	local method=$1 path=$2 out
	shift 2
	out=$(curl -sS -X "$method" -o "$T/http_body" -w '%{http_code}' --max-time $((10 * TL_SLOW)) \
		"$@" "$INTAKE_URL$path") || out=000
	TL_HTTP_STATUS=$out
	TL_HTTP_BODY=$(<"$T/http_body")
	printf '%s\n' "$TL_HTTP_STATUS" >"$T/http_status"
	printf '%s\n' "$TL_HTTP_BODY"
}

# tl_post_report JSON [extra curl args...]: POST /api/v1/reports.
tl_post_report() {
	local json=$1
	shift
	tl_http POST /api/v1/reports -H 'Content-Type: application/json' --data-binary "$json" "$@"
}

tl_last_status() { cat "$T/http_status"; }

# tl_json_get JSON KEY: prints a top-level string/number field (empty if absent).
tl_json_get() {
	python3 -c 'import json,sys
v=json.loads(sys.argv[1]).get(sys.argv[2])
print("" if v is None else v)' "$1" "$2"
}

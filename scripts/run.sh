#!/usr/bin/env bash
# scripts/run.sh - runs a whole Tipline node on this machine (make run).
#
# State lives in var/ of the repository (gitignored): var/keys (generated
# once, kept), var/etc (configs, rewritten each run), var/log, var/nats
# (JetStream store, encrypted), var/vault (the vault database).  Ports come
# from TL_NATS_PORT (4222), TL_MON_PORT (8222), TL_INTAKE_PORT (8080),
# TL_CONSOLE_PORT (8090, the district responder console), TL_PAYOUTS_PORT
# (8091, the finance console);
# everything listens on 127.0.0.1 only.  Ctrl-C stops everything: each
# daemon with SIGTERM, then nats-server.  If a daemon dies, everything stops.
# The DEVENV_* variables are read by devenv.sh:
# shellcheck disable=SC2034
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TL_BUILD_DIR:-$ROOT/build}
[[ -d $BUILD ]] && BUILD=$(cd "$BUILD" && pwd)
STATE=${TL_STATE_DIR:-$ROOT/var}

# shellcheck source=scripts/devenv.sh
source "$ROOT/scripts/devenv.sh"
DEVENV_STATE=$STATE
DEVENV_CLI=$BUILD/cli/tipline
DEVENV_SRC=$ROOT
DEVENV_NATS_PORT=${TL_NATS_PORT:-4222}
DEVENV_MON_PORT=${TL_MON_PORT:-8222}
DEVENV_INTAKE_PORT=${TL_INTAKE_PORT:-8080}
CONSOLE_PORT=${TL_CONSOLE_PORT:-8090}
DEVENV_PAYOUTS_PORT=${TL_PAYOUTS_PORT:-8091}
PAYOUTS_BIN=$BUILD/payouts/tipline-payouts
DEVENV_DISTRICT_BIN=$BUILD/districts/tipline-district

say() { printf 'run: %s\n' "$*" >&2; }

[[ -x $DEVENV_CLI ]] || { say "$DEVENV_CLI is not built; run 'make build'"; exit 1; }

names=()
pids=()
stopping=0
reaped="" # pid already collected by wait -n

stop_all() {
	local i pid st
	((stopping)) && return 0
	stopping=1
	# Reverse start order: intake stops taking reports before the vault
	# goes; nats-server last, so both can finish what they hold.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		kill -0 "$pid" 2>/dev/null || continue
		say "stopping ${names[i]} (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
	done
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		[[ $pid != "$reaped" ]] || continue
		st=0
		timeout_wait "$pid" 20 || { say "${names[i]} ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
		wait "$pid" 2>/dev/null || st=$?
		((st == 0 || st == 127)) || say "${names[i]} exited with status $st"
	done
	say "stopping nats-server"
	devenv_nats_stop
	say "stopped; state kept in $STATE"
}

timeout_wait() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

devenv_keygen
devenv_write_configs
mkdir -p "$STATE/log"
say "starting nats-server on 127.0.0.1:$DEVENV_NATS_PORT (log $STATE/log/nats.log)"
devenv_nats_start
devenv_streams_setup | sed 's/^/run: /' >&2

# The responder console (docs/console.md) on 127.0.0.1:$CONSOLE_PORT, with
# demo users: a responder and a supervisor per district and a city officer.
# Their passwords are deterministic DEV-ONLY values (printed below); the
# users are created once, when the users database does not exist yet.
demo_pw() { printf 'dev-%s-%s' "$1" "$2"; }
demo_districts=(120101 120102 120103 120104 120105 120106 120110 120111 120112 120113 120114 120115 120116 120117 120118 120119)
if [[ -x $DEVENV_DISTRICT_BIN ]]; then
	devenv_district_console all "$CONSOLE_PORT"
	if [[ ! -e $STATE/district/all.db-users ]]; then
		mkdir -p "$STATE/district"
		say "creating demo console users (once)"
		for d in "${demo_districts[@]}"; do
			devenv_district_user all "resp.$d" responder "$d" "$(demo_pw resp "$d")"
			devenv_district_user all "sup.$d" supervisor "$d" "$(demo_pw sup "$d")"
		done
		devenv_district_user all city city_office 120000 "$(demo_pw city 120000)"
	fi
fi

# The finance console (docs/finance-console.md) of tipline-payouts, with
# one demo user per finance role (DEV-ONLY passwords, printed below),
# created once, when the payouts database does not exist yet.  Each
# approver's public signing key goes to the vault's approvers file, and
# every district gets a demo award budget for this year (idempotent).
fin_users=(
	"fin.prop finance_proposer all dev-finance-prop"
	"appr.120118 finance_approver 120118 dev-appr-120118"
	"appr.city finance_approver 120000 dev-appr-city"
	"fin.pay finance_payer all dev-finance-pay"
	"fin.audit auditor all dev-finance-audit"
)
if [[ -x $PAYOUTS_BIN ]]; then
	padmin() { "$PAYOUTS_BIN" -c "$STATE/etc/payouts.ini" "$@"; }
	if [[ ! -e $STATE/payouts/payouts.db ]]; then
		say "creating demo finance users (once)"
		for u in "${fin_users[@]}"; do
			read -r name role scope pw <<<"$u"
			out=$(printf '%s\n' "$pw" | padmin user add "$name" "$role" "$scope" 2>&1) ||
				{ say "user add $name failed: $out"; exit 1; }
		done
	fi
	# The vault trusts exactly the enabled approvers' public keys.
	padmin user approvers >"$STATE/etc/approvers.txt.tmp" && mv -f "$STATE/etc/approvers.txt.tmp" "$STATE/etc/approvers.txt"
	year=$(TZ=Asia/Shanghai date +%Y)
	for d in "${demo_districts[@]}" 120000; do
		padmin budget fund "$d" "$year" 2000000 1 >/dev/null 2>&1 || { say "budget for $d failed"; exit 1; }
	done
fi

# start NAME BINARY CONFIG
start() {
	local name=$1 bin=$2 conf=$3
	if [[ ! -x $bin ]]; then
		say "WARNING: $bin is not built; running without $name"
		return 0
	fi
	say "starting $name (log $STATE/log/$name.log)"
	setsid "$bin" -c "$conf" >>"$STATE/log/$name.log" 2>&1 </dev/null &
	names+=("$name")
	pids+=("$!")
}

start tipline-vault "$BUILD/vault/tipline-vault" "$STATE/etc/vault.ini"
# One process serves all 16 districts and the city triage node for the demo;
# each district still connects as its own NATS user.
start tipline-district "$BUILD/districts/tipline-district" "$STATE/etc/district-all.ini"
start tipline-payouts "$PAYOUTS_BIN" "$STATE/etc/payouts.ini"
start tipline-intake "$BUILD/intake/tipline-intake" "$STATE/etc/intake.ini"

base=http://127.0.0.1:$DEVENV_INTAKE_PORT
if [[ -x $BUILD/intake/tipline-intake ]]; then
	ok=0
	for ((i = 0; i < 150; i++)); do
		if [[ $(curl -sS -o /dev/null -w '%{http_code}' --max-time 1 "$base/healthz" 2>/dev/null) == 200 ]]; then
			ok=1
			break
		fi
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	if ((!ok)); then
		say "tipline-intake did not answer $base/healthz; last lines of its log:"
		tail -n 20 "$STATE/log/tipline-intake.log" >&2 || true
		exit 1
	fi
fi

cat <<EOF

Tipline is running (state in $STATE; Ctrl-C stops everything).

  Report API   $base/api/v1/reports            (POST JSON)
  Receipts     $base/api/v1/receipts/<receipt>  (GET status; POST .../claim to claim an award)
  Status page  $base/status                     (reporters: receipt -> progress, award claim form)
  Health       $base/healthz
  Metrics      $base/metrics
  NATS         nats://127.0.0.1:$DEVENV_NATS_PORT    monitor http://127.0.0.1:$DEVENV_MON_PORT/ (/jsz, /healthz)
  Logs         $STATE/log/
  Vault DB     $STATE/vault/vault.db (SQLCipher, key $STATE/keys/vault-db.key)
  Case DB      $STATE/district/all.db (SQLCipher, key $STATE/keys/district-db.key)
  Console      http://127.0.0.1:$CONSOLE_PORT/   (district responder console, docs/console.md)
               demo users (DEV-ONLY passwords):
                 resp.<code> / dev-resp-<code>    responder of district <code>, e.g. resp.120118 / dev-resp-120118
                 sup.<code>  / dev-sup-<code>     supervisor of district <code>, e.g. sup.120118 / dev-sup-120118
                 city        / dev-city-120000    city office (120000 triage, every district's deadline board)
  Finance      http://127.0.0.1:$DEVENV_PAYOUTS_PORT/   (finance console of tipline-payouts, docs/finance-console.md)
               demo users (DEV-ONLY passwords); approvers type their password again to sign:
                 fin.prop    / dev-finance-prop   proposer, every district
                 appr.120118 / dev-appr-120118    approver of district 120118 (静海)
                 appr.city   / dev-appr-city      city-level approver (needed above 100,000 yuan)
                 fin.pay     / dev-finance-pay    payer: exports payment batches, confirms payment
                 fin.audit   / dev-finance-audit  auditor (read-only)
               batch files open only with: $DEVENV_CLI payfile open FILE -k $STATE/keys/finance-export.key
  Payouts DB   $STATE/payouts/payouts.db (SQLCipher, key $STATE/keys/payouts-db.key); audit chains
               $STATE/payouts/audit.tla and $STATE/vault/audit.tla (tipline audit verify)

Try a report:

  curl -sS -X POST $base/api/v1/reports \\
       -H 'Content-Type: application/json' \\
       -d '{"text":"静海区大邱庄镇某钢厂夜间用中频炉熔化废钢生产地条钢，每天凌晨出货。","location":"静海区大邱庄镇"}'

The answer carries a 16-digit receipt; check it with
  curl -sS $base/api/v1/receipts/<receipt>

EOF

if ((${#pids[@]} == 0)); then
	say "no daemon is built; nats-server keeps running until Ctrl-C"
	wait "$(<"$STATE/run/nats.pid")" 2>/dev/null || true
	say "nats-server exited"
	exit 1
fi

# Wait for Ctrl-C (the traps) or for any process to die.
nats_pid=$(<"$STATE/run/nats.pid")
while :; do
	dead=""
	st=0
	wait -n -p dead "${pids[@]}" "$nats_pid" || st=$?
	[[ -n $dead ]] || continue
	reaped=$dead
	for ((i = 0; i < ${#pids[@]}; i++)); do
		if [[ ${pids[i]} == "$dead" ]]; then
			say "${names[i]} (pid $dead) died with status $st; stopping everything (see $STATE/log/${names[i]}.log)"
			exit 1
		fi
	done
	if [[ $dead == "$nats_pid" ]]; then
		say "nats-server (pid $dead) died with status $st; stopping everything (see $STATE/log/nats.log)"
		exit 1
	fi
done

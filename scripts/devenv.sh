# shellcheck shell=bash
# "$JS..." and "$TL_..." are literal NATS subjects and config variables:
# shellcheck disable=SC2016
# scripts/devenv.sh - a development/test Tipline node in one state folder.
#
# Sourced (never run) by scripts/run.sh and tests/lib.sh.  The caller sets:
#   DEVENV_STATE        state folder (keys/, etc/, log/, nats/, vault/, run/)
#   DEVENV_CLI          path of the `tipline` binary
#   DEVENV_SRC          repository root (for data/ files)
#   DEVENV_NATS_PORT    NATS client port        (loopback only)
#   DEVENV_MON_PORT     NATS HTTP monitor port  (loopback only)
#   DEVENV_INTAKE_PORT  intake HTTP port        (loopback only)
#   DEVENV_PAYOUTS_PORT finance console port    (loopback only; default 8091)
#   DEVENV_CLAIM_WINDOW_S  payouts' claim window in seconds (default 60 days;
#                       tests shorten it to see forfeiture)
# and then calls:
#   devenv_keygen           tipline keygen STATE/keys (idempotent: keeps keys)
#   devenv_write_configs    STATE/etc/{nats.conf,vault.ini,intake.ini,payouts.ini,
#                           district-all.ini} (rewritten each time), and the
#                           empty STATE/etc/{approvers,exclusions}.txt (kept)
#   devenv_write_district_ini NAME DISTRICTS [KEY=VALUE...]
#                           STATE/etc/district-NAME.ini (tests: several nodes)
#   devenv_district_console NAME PORT
#                           appends a [console] section (127.0.0.1:PORT,
#                           cookie_secure=false) to STATE/etc/district-NAME.ini
#   devenv_district_user NAME USER ROLE DISTRICT PASSWORD
#                           adds a console user to that node's database
#   devenv_nats_start       start nats-server in the background, wait for /healthz
#   devenv_nats_stop        SIGTERM nats-server and wait for it
#   devenv_streams_setup    tipline streams setup as the admin user
#   devenv_nats_url         prints nats://127.0.0.1:PORT
#
# Secrets never appear in a config file or on a command line: nats.conf
# refers to $TL_JS_KEY and $TL_NATS_PW_<USER>, which are read from the key
# folder into the environment of the nats-server process only (a subshell).
# Functions return non-zero on failure; the callers run with set -euo pipefail.

devenv_log() { printf 'devenv: %s\n' "$*" >&2; }

devenv_nats_url() { printf 'nats://127.0.0.1:%s\n' "$DEVENV_NATS_PORT"; }

devenv_keygen() {
	mkdir -p "$DEVENV_STATE"
	"$DEVENV_CLI" keygen "$DEVENV_STATE/keys" >/dev/null
}

# ---- nats.conf users ---------------------------------------------------
#
# One user = one _devenv_user call:
#   _devenv_user NAME                       # no permissions block: everything
#   _devenv_user NAME pub SUBJ... sub SUBJ...
#   _devenv_user NAME allow_responses pub SUBJ... sub SUBJ...
#       allow_responses: may also answer the reply subject of a request it
#       received (core request/reply) without a publish right on the
#       requester's inbox; one answer per request.
# The password is $TL_NATS_PW_<NAME in upper case>, taken from
# keys/nats-<name>.pw by devenv_nats_start.  Subjects are quoted in the
# config so that "$JS..." is not taken for a variable.

_devenv_user() {
	local name=$1 mode="" s resp=0
	local -a pub=() sub=()
	shift
	for s in "$@"; do
		case "$s" in
		pub | sub) mode=$s ;;
		allow_responses) resp=1 ;;
		*)
			if [[ $mode == pub ]]; then pub+=("$s");
			elif [[ $mode == sub ]]; then sub+=("$s");
			else devenv_log "_devenv_user $name: subject before pub/sub"; return 1; fi
			;;
		esac
	done
	# Environment names cannot hold '-': district-120101 -> DISTRICT_120101.
	local var=${name^^}
	var=${var//-/_}
	printf '    {\n      user: %s\n      password: $TL_NATS_PW_%s\n' "$name" "$var"
	if ((${#pub[@]} + ${#sub[@]})); then
		printf '      permissions: {\n'
		printf '        publish: { allow: ['
		_devenv_list "${pub[@]}"
		printf '] }\n        subscribe: { allow: ['
		_devenv_list "${sub[@]}"
		printf '] }\n'
		if ((resp)); then
			printf '        allow_responses: true\n'
		fi
		printf '      }\n'
	elif ((resp)); then
		devenv_log "_devenv_user $name: allow_responses needs allow-lists"
		return 1
	fi
	printf '    }\n'
}

_devenv_list() {
	local first=1 s
	for s in "$@"; do
		((first)) || printf ', '
		first=0
		printf '"%s"' "$s"
	done
}

# Every user of the node.  Allow-lists are exact: a daemon gets the
# subjects its code uses and nothing else (see docs/nats.md).
_devenv_users() {
	# Creates streams, consumers and buckets; reads streams in tests.
	_devenv_user admin

	# Publishes deposits (reports and sealed payee claims) and leads,
	# writes receipt status and idempotency keys; cannot read any stream's
	# messages except its own KV lookups.
	_devenv_user intake \
		pub 'tl.deposit.report' 'tl.deposit.claim' 'tl.lead.>' \
		    '$KV.TL_STATUS.>' '$KV.TL_IDEM.>' \
		    '$JS.API.STREAM.INFO.TL_DEPOSITS' '$JS.API.STREAM.INFO.TL_LEADS' \
		    '$JS.API.STREAM.INFO.KV_TL_STATUS' '$JS.API.STREAM.INFO.KV_TL_IDEM' \
		    '$JS.API.STREAM.MSG.GET.KV_TL_STATUS' '$JS.API.STREAM.MSG.GET.KV_TL_IDEM' \
		    '$JS.API.DIRECT.GET.KV_TL_STATUS.>' '$JS.API.DIRECT.GET.KV_TL_IDEM.>' \
		sub '_INBOX_intake.>'

	# Pulls from and acks its own durable consumer on TL_DEPOSITS,
	# publishes claim eligibility results, and answers payee-reveal
	# requests (allow_responses: into payouts' inbox, once per request,
	# with no standing right on _INBOX_payouts.>).
	_devenv_user vault allow_responses \
		pub '$JS.API.CONSUMER.INFO.TL_DEPOSITS.vault' \
		    '$JS.API.CONSUMER.MSG.NEXT.TL_DEPOSITS.vault' \
		    '$JS.ACK.TL_DEPOSITS.vault.>' \
		    '$JS.API.STREAM.INFO.TL_DEPOSITS' \
		    'tl.payee.result' '$JS.API.STREAM.INFO.TL_PAYEES' \
		sub '_INBOX_vault.>' 'tl.vault.reveal'

	# Pulls and acks its three durables (every district's leads and events,
	# the vault's payee results), reads and writes receipt status, asks the
	# vault for payees.  No right on any subject a district or intake
	# publishes, and none on tl.payee.result (docs/award-flow.md).
	_devenv_user payouts \
		pub '$JS.API.CONSUMER.INFO.TL_LEADS.payouts-leads' \
		    '$JS.API.CONSUMER.MSG.NEXT.TL_LEADS.payouts-leads' \
		    '$JS.ACK.TL_LEADS.payouts-leads.>' \
		    '$JS.API.CONSUMER.INFO.TL_EVENTS.payouts-events' \
		    '$JS.API.CONSUMER.MSG.NEXT.TL_EVENTS.payouts-events' \
		    '$JS.ACK.TL_EVENTS.payouts-events.>' \
		    '$JS.API.CONSUMER.INFO.TL_PAYEES.payouts-payees' \
		    '$JS.API.CONSUMER.MSG.NEXT.TL_PAYEES.payouts-payees' \
		    '$JS.ACK.TL_PAYEES.payouts-payees.>' \
		    '$JS.API.STREAM.INFO.TL_LEADS' '$JS.API.STREAM.INFO.TL_EVENTS' \
		    '$JS.API.STREAM.INFO.TL_PAYEES' \
		    '$KV.TL_STATUS.>' '$JS.API.STREAM.INFO.KV_TL_STATUS' \
		    '$JS.API.DIRECT.GET.KV_TL_STATUS.>' \
		    'tl.vault.reveal' \
		sub '_INBOX_payouts.>'

	# One user per district (and the city triage code 120000): pulls its
	# own lead and transfer consumers, publishes events only on its own
	# subjects and transfer messages only as sender, reads and writes only
	# its own claims.  No right on tl.lead.> at all (docs/districts.md).
	local d
	for d in $DEVENV_DISTRICTS; do
		_devenv_district_user "$d"
	done
}

DEVENV_DISTRICTS="120101 120102 120103 120104 120105 120106 120110 120111 120112 120113
120114 120115 120116 120117 120118 120119 120000"

_devenv_district_user() {
	local d=$1
	_devenv_user "district-$d" \
		pub "\$JS.API.CONSUMER.INFO.TL_LEADS.district-$d" \
		    "\$JS.API.CONSUMER.MSG.NEXT.TL_LEADS.district-$d" \
		    "\$JS.ACK.TL_LEADS.district-$d.>" \
		    "\$JS.API.CONSUMER.INFO.TL_XFER.district-$d-xfer" \
		    "\$JS.API.CONSUMER.MSG.NEXT.TL_XFER.district-$d-xfer" \
		    "\$JS.ACK.TL_XFER.district-$d-xfer.>" \
		    "\$JS.API.CONSUMER.INFO.TL_EVENTS.district-$d-events" \
		    "\$JS.API.CONSUMER.MSG.NEXT.TL_EVENTS.district-$d-events" \
		    "\$JS.ACK.TL_EVENTS.district-$d-events.>" \
		    "tl.event.$d.>" "tl.xfer.*.$d.*" \
		    "\$KV.TL_CLAIMS.$d.>" \
		    '$JS.API.STREAM.INFO.KV_TL_CLAIMS' \
		    "\$JS.API.DIRECT.GET.KV_TL_CLAIMS.\$KV.TL_CLAIMS.$d.>" \
		sub "_INBOX_district_$d.>"
}

_devenv_write_nats_conf() {
	local f=$DEVENV_STATE/etc/nats.conf
	{
		cat <<EOF
# Generated by scripts/devenv.sh; rewritten on every start, do not edit.
# A single loopback node for development and tests.  No secret is in this
# file: the JetStream key and the passwords come from the environment of
# the nats-server process (TL_JS_KEY, TL_NATS_PW_<USER>).
server_name: tipline_dev
listen: 127.0.0.1:$DEVENV_NATS_PORT
http: 127.0.0.1:$DEVENV_MON_PORT
# Messages may be 1 MiB (the streams' max_msg_size) plus headers.
max_payload: 2MB

jetstream {
  store_dir: "$DEVENV_STATE/nats"
  # Encryption at rest: without it lead payloads sit in clear in *.blk.
  cipher: chachapoly
  key: \$TL_JS_KEY
  max_memory_store: 64MB
  max_file_store: 2GB
}

authorization {
  users: [
EOF
		_devenv_users
		cat <<EOF
  ]
}
EOF
	} >"$f.tmp"
	mv -f "$f.tmp" "$f"
}

_devenv_write_vault_ini() {
	cat >"$DEVENV_STATE/etc/vault.ini.tmp" <<EOF
# Generated by scripts/devenv.sh; relative paths are relative to this file.
[vault]
database = ../vault/vault.db
database_key = ../keys/vault-db.key
box_secret_key = ../keys/vault-box.key
box_public_key = ../keys/vault-box.pub
pseudonym_key = ../keys/vault-pseudonym.key

[payees]
approvers_file = ../etc/approvers.txt
exclusion_file = ../etc/exclusions.txt
exclusion_key = ../keys/vault-exclusion.key
export_public_key = ../keys/finance-export.pub
dual_approval_threshold_fen = 10000000
audit_log = ../vault/audit.tla
audit_secret_key = ../keys/audit-vault.key

[nats]
url = nats://127.0.0.1:$DEVENV_NATS_PORT
user = vault
password_file = ../keys/nats-vault.pw

[log]
level = info
EOF
	mv -f "$DEVENV_STATE/etc/vault.ini.tmp" "$DEVENV_STATE/etc/vault.ini"
}

# Paths relative to the ini file, like the others; the rules file is read
# from the source tree.
_devenv_write_payouts_ini() {
	cat >"$DEVENV_STATE/etc/payouts.ini.tmp" <<EOF
# Generated by scripts/devenv.sh; relative paths are relative to this file.
[payouts]
database = ../payouts/payouts.db
database_key = ../keys/payouts-db.key
rules = $DEVENV_SRC/data/award-rules.ini
export_public_key = ../keys/finance-export.pub
export_dir = ../payouts/batches
audit_log = ../payouts/audit.tla
audit_secret_key = ../keys/audit-payouts.key
claim_window_seconds = ${DEVENV_CLAIM_WINDOW_S:-5184000}
scan_interval_ms = 1000
reveal_timeout_ms = 5000

[console]
listen_address = 127.0.0.1
listen_port = ${DEVENV_PAYOUTS_PORT:-8091}
# Plain HTTP on loopback in development; production keeps the default.
cookie_secure = false

[nats]
url = nats://127.0.0.1:$DEVENV_NATS_PORT
user = payouts
password_file = ../keys/nats-payouts.pw

[log]
level = info
EOF
	mv -f "$DEVENV_STATE/etc/payouts.ini.tmp" "$DEVENV_STATE/etc/payouts.ini"
}

# The vault's approvers file (staff_id level pubkey, appended by the
# payouts user-add command) and exclusion list (keyed hashes): empty at
# first, never rewritten, so what tests and operators appended survives a
# restart.
_devenv_touch_lists() {
	local f
	for f in approvers exclusions; do
		f=$DEVENV_STATE/etc/$f.txt
		[[ -e $f ]] && continue
		(umask 077 && : >"$f") || return 1
	done
}

_devenv_write_intake_ini() {
	cat >"$DEVENV_STATE/etc/intake.ini.tmp" <<EOF
# Generated by scripts/devenv.sh; relative paths are relative to this file.
[intake]
listen_address = 127.0.0.1
listen_port = $DEVENV_INTAKE_PORT
max_body_bytes = 262144
threads = 16
vault_public_key = ../keys/vault-box.pub
intake_key = ../keys/intake.key
gazetteer = $DEVENV_SRC/data/tianjin-gazetteer.tsv

[nats]
url = nats://127.0.0.1:$DEVENV_NATS_PORT
user = intake
password_file = ../keys/nats-intake.pw

[log]
level = info
EOF
	mv -f "$DEVENV_STATE/etc/intake.ini.tmp" "$DEVENV_STATE/etc/intake.ini"
}

# devenv_write_district_ini NAME DISTRICTS [KEY=VALUE...]
# Writes STATE/etc/district-NAME.ini for a node serving DISTRICTS ("all",
# or comma-separated codes) with its database in STATE/district/NAME.db.
# KEY=VALUE pairs override [district] keys (lease_seconds=5, ...).
devenv_write_district_ini() {
	local name=$1 districts=$2 kv k v
	local f=$DEVENV_STATE/etc/district-$name.ini
	local -A over=([lease_seconds]=259200 [idle_seconds]=172800 [scan_seconds]=60
		[claim_days]=1 [finding_days]=30 [verdict_days]=90 [transfer_days]=2)
	shift 2
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		over[$k]=$v
	done
	{
		printf '# Generated by scripts/devenv.sh; relative paths are relative to this file.\n'
		printf '[district]\ndistricts = %s\ndatabase = ../district/%s.db\n' "$districts" "$name"
		printf 'database_key = ../keys/district-db.key\n'
		printf 'holidays = %s/data/holidays-cn.txt\n' "$DEVENV_SRC"
		for k in "${!over[@]}"; do
			printf '%s = %s\n' "$k" "${over[$k]}"
		done
		printf '\n[nats]\nurl = nats://127.0.0.1:%s\npassword_dir = ../keys\n' "$DEVENV_NATS_PORT"
		printf '\n[log]\nlevel = info\n'
	} >"$f.tmp"
	mv -f "$f.tmp" "$f"
}

# devenv_district_console NAME PORT: the responder console of node NAME on
# 127.0.0.1:PORT.  cookie_secure=false because the dev console is plain
# HTTP on loopback; every real deployment keeps the default (true).
devenv_district_console() {
	local name=$1 port=$2
	local f=$DEVENV_STATE/etc/district-$name.ini
	[[ -f $f ]] || { devenv_log "devenv_district_console: $f does not exist"; return 1; }
	printf '\n[console]\nlisten_address = 127.0.0.1\nlisten_port = %s\ncookie_secure = false\n' "$port" >>"$f"
}

# devenv_district_user NAME USER ROLE DISTRICT PASSWORD: adds a console user
# to node NAME's database (the password goes through stdin, never argv).
# Needs DEVENV_DISTRICT_BIN (the tipline-district binary).
devenv_district_user() {
	local name=$1 user=$2 role=$3 district=$4 pw=$5
	printf '%s\n' "$pw" | "$DEVENV_DISTRICT_BIN" -c "$DEVENV_STATE/etc/district-$name.ini" \
		user add "$user" "$role" "$district" >/dev/null
}

devenv_write_configs() {
	local d
	mkdir -p "$DEVENV_STATE/etc" "$DEVENV_STATE/log" "$DEVENV_STATE/run"
	# They hold the JetStream store and the vault, case and payouts DBs:
	# owner only.
	for d in nats vault district payouts; do
		[[ -d $DEVENV_STATE/$d ]] || mkdir -m 0700 "$DEVENV_STATE/$d"
	done
	[[ -d $DEVENV_STATE/payouts/batches ]] || mkdir -m 0700 "$DEVENV_STATE/payouts/batches"
	_devenv_touch_lists || return 1
	_devenv_write_nats_conf
	_devenv_write_vault_ini
	_devenv_write_intake_ini
	_devenv_write_payouts_ini
	# The demo node: every district and the city triage node in one process.
	devenv_write_district_ini all all
}

# Exports the nats-server secrets.  Call only inside a ( subshell ) that
# then execs nats-server, so they never reach any other process.
_devenv_nats_export() {
	# nats-server parses a variable's value as config text: an unquoted
	# value starting with digits ("6e1f...") is read as a number and
	# rejected, so each value is wrapped in double quotes.  Keys are hex and
	# passwords alphanumeric, so they never contain a quote themselves.
	local f u q
	q='"'
	export "TL_JS_KEY=$q$(<"$DEVENV_STATE/keys/nats-store.key")$q"
	for f in "$DEVENV_STATE"/keys/nats-*.pw; do
		u=${f##*/nats-}
		u=${u%.pw}
		u=${u^^}
		export "TL_NATS_PW_${u//-/_}=$q$(<"$f")$q"
	done
}

# Validates nats.conf with the server's own parser (nats-server -t).
devenv_nats_check() {
	local out
	if ! out=$(
		_devenv_nats_export
		exec nats-server -c "$DEVENV_STATE/etc/nats.conf" -t 2>&1
	); then
		printf '%s\n' "$out" >&2
		return 1
	fi
}

_devenv_nats_pid() {
	local pid
	[[ -s $DEVENV_STATE/run/nats.pid ]] || return 1
	pid=$(<"$DEVENV_STATE/run/nats.pid")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

devenv_nats_start() {
	local pid i tries=${DEVENV_WAIT_TRIES:-150}
	if pid=$(_devenv_nats_pid); then
		devenv_log "nats-server already running (pid $pid, $DEVENV_STATE/run/nats.pid)"
		return 1
	fi
	devenv_nats_check || { devenv_log "nats-server -t rejected $DEVENV_STATE/etc/nats.conf"; return 1; }
	# setsid: a Ctrl-C at the terminal must reach only run.sh, which then
	# stops the processes in order (daemons first, nats-server last).
	# The ( ) & subshell execs setsid, which execs nats-server: $! is the
	# server's own pid.
	(
		_devenv_nats_export
		exec setsid nats-server -c "$DEVENV_STATE/etc/nats.conf"
	) >>"$DEVENV_STATE/log/nats.log" 2>&1 </dev/null &
	pid=$!
	printf '%s\n' "$pid" >"$DEVENV_STATE/run/nats.pid"
	for ((i = 0; i < tries; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			devenv_log "nats-server exited during startup; last lines of $DEVENV_STATE/log/nats.log:"
			tail -n 20 "$DEVENV_STATE/log/nats.log" >&2 || true
			rm -f "$DEVENV_STATE/run/nats.pid"
			return 1
		fi
		if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$DEVENV_MON_PORT/healthz" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	devenv_log "nats-server not healthy after $((tries / 10)) s (see $DEVENV_STATE/log/nats.log)"
	return 1
}

devenv_nats_stop() {
	local pid i
	pid=$(_devenv_nats_pid) || { rm -f "$DEVENV_STATE/run/nats.pid"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		devenv_log "nats-server (pid $pid) ignored SIGTERM for 15 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	# Reap it if it is our child; harmless otherwise.
	wait "$pid" 2>/dev/null || true
	rm -f "$DEVENV_STATE/run/nats.pid"
}

devenv_streams_setup() {
	"$DEVENV_CLI" streams setup -s "$(devenv_nats_url)" -u admin \
		-p "$DEVENV_STATE/keys/nats-admin.pw"
}

#!/usr/bin/env bash
# tipline-payouts refuses to start on anything it cannot trust, and says
# what is wrong: an unknown config key, a missing or world-readable key
# file, a missing export key, an award rules file above the 500,000-yuan
# cap, a database that is not encrypted or that its key does not open.
# `tipline check` runs the right daemon's -n for every generated config
# (intake, vault, the district node, payouts).
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

plaintext_header() { [[ $(head -c 15 "$1" | tr -d '\0') == "SQLite format 3" ]]; }

tl_setup
tl_need "$TL_BIN_PAYOUTS" "$TL_BIN_CLI" "$TL_BIN_INTAKE" "$TL_BIN_VAULT" "$TL_BIN_DISTRICT"

out=$("$TL_BIN_PAYOUTS" -c "$TL_PAYOUTS_INI" -n)
tl_assert_eq "config ok" "$out" "-n on the generated config"
for ini in "$TL_PAYOUTS_INI" "$TL_VAULT_INI" "$TL_INTAKE_INI" "$T/etc/district-all.ini"; do
	out=$("$TL_BIN_CLI" check "$ini" 2>&1) || tl_fail "tipline check $(basename "$ini"): $out"
	tl_assert_eq "config ok" "$out" "tipline check $(basename "$ini")"
done

# variant NAME SED: a copy of the payouts config with one change.
variant() {
	sed "$2" "$TL_PAYOUTS_INI" >"$T/etc/payouts-$1.ini"
	echo "$T/etc/payouts-$1.ini"
}
expect_fail() { # expect_fail WHAT INI NEEDLE
	local out rc=0
	out=$("$TL_BIN_PAYOUTS" -c "$2" -n 2>&1) || rc=$?
	[[ $rc != 0 ]] || tl_fail "$1: -n exited 0"
	tl_assert_contains "$out" "$3" "$1: message"
}

cp "$TL_PAYOUTS_INI" "$T/etc/payouts-unknown.ini"
printf '[console]\nlisten_prot = 1\n' >>"$T/etc/payouts-unknown.ini"
expect_fail "unknown key" "$T/etc/payouts-unknown.ini" listen_prot
expect_fail "missing DB key" "$(variant nokey 's#^database_key = .*#database_key = ../keys/nope.key#')" nope.key
cp "$TL_KEYS/payouts-db.key" "$TL_KEYS/loose.key"
chmod 0644 "$TL_KEYS/loose.key"
expect_fail "world-readable DB key" "$(variant loose 's#^database_key = .*#database_key = ../keys/loose.key#')" loose.key
expect_fail "missing export key" \
	"$(variant noexport 's#^export_public_key = .*#export_public_key = ../keys/none.pub#')" none.pub
expect_fail "missing audit key" \
	"$(variant noaudit 's#^audit_secret_key = .*#audit_secret_key = ../keys/none-audit.key#')" none-audit.key
sed 's/^base_fen = 10000000$/base_fen = 50000001/' "$TL_SRC_DIR/data/award-rules.ini" >"$T/etc/rules-overcap.ini"
grep -q '^base_fen = 50000001$' "$T/etc/rules-overcap.ini" || tl_fail "could not make an over-cap rules file"
expect_fail "rules above the cap" "$(variant overcap "s#^rules = .*#rules = $T/etc/rules-overcap.ini#")" base_fen
expect_fail "bad claim window" "$(variant window 's#^claim_window_seconds = .*#claim_window_seconds = -5#')" \
	claim_window_seconds

# A first start creates the encrypted database.
tl_start_payouts
tl_stop_payouts
[[ -s $TL_PAYOUTS_DB ]] || tl_fail "payouts did not create $TL_PAYOUTS_DB"
! plaintext_header "$TL_PAYOUTS_DB" || tl_fail "the payouts database is plaintext"
tl_assert_eq 600 "$(stat -c %a "$TL_PAYOUTS_DB")" "payouts database file mode"

run_refused() { # run_refused INI WHAT NEEDLE: a real start exits non-zero with NEEDLE
	local rc=0 log=$T/log/payouts-refused.log
	: >"$log"
	timeout $((30 * TL_SLOW)) "$TL_BIN_PAYOUTS" -c "$1" >"$log" 2>&1 </dev/null || rc=$?
	((rc != 0 && rc != 124)) || tl_fail "$2: exit status $rc (expected a refusal)"
	tl_assert_contains "$(<"$log")" "$3" "$2: log"
}
python3 -c 'import os; print(os.urandom(32).hex())' >"$TL_KEYS/payouts-wrong.key"
chmod 0600 "$TL_KEYS/payouts-wrong.key"
run_refused "$(variant wrongkey 's#^database_key = .*#database_key = ../keys/payouts-wrong.key#')" \
	"wrong database key" "wrong key or not a Tipline database"
mv "$TL_PAYOUTS_DB" "$TL_PAYOUTS_DB.real"
rm -f "$TL_PAYOUTS_DB-wal" "$TL_PAYOUTS_DB-shm"
sqlcipher "$TL_PAYOUTS_DB" "CREATE TABLE awards(x); INSERT INTO awards VALUES ('planted');"
plaintext_header "$TL_PAYOUTS_DB" || tl_fail "could not make a plaintext file"
run_refused "$TL_PAYOUTS_INI" "plaintext database" "plaintext"
plaintext_header "$TL_PAYOUTS_DB" || tl_fail "the plaintext file was modified"
[[ ! -e $TL_PAYOUTS_DB-wal ]] || tl_fail "payouts opened the plaintext file"
tl_pass

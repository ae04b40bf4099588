#!/usr/bin/env bash
# tipline-vault refuses to start on anything it cannot trust: a config it
# does not understand, a missing or world-readable key file, a database
# file that is not encrypted, or a database it cannot read with its key.
# Each refusal must say clearly what is wrong.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

# plaintext_header FILE: true if FILE starts like an unencrypted SQLite file.
plaintext_header() { [[ $(head -c 15 "$1" | tr -d '\0') == "SQLite format 3" ]]; }

tl_setup
tl_need "$TL_BIN_VAULT"

# variant NAME SED-SCRIPT: a copy of vault.ini next to it (so relative
# paths still resolve), edited by sed; prints its path.
variant() {
	local f=$T/etc/vault-$1.ini
	sed -e "$2" "$TL_VAULT_INI" >"$f"
	printf '%s\n' "$f"
}

# expect_refusal INI WHAT NEEDLE: -n (or a real start) exits non-zero and
# says NEEDLE.
expect_check_fails() {
	local ini=$1 what=$2 needle=$3 out rc=0
	out=$("$TL_BIN_VAULT" -c "$ini" -n 2>&1) || rc=$?
	((rc != 0)) || tl_fail "$what: -n exited 0 (output: $out)"
	tl_assert_contains "$out" "$needle" "$what: message"
	tl_assert_not_contains "$out" "config ok" "$what: message"
}

# A good config passes.
out=$("$TL_BIN_VAULT" -c "$TL_VAULT_INI" -n 2>&1) || tl_fail "-n on the good config failed: $out"
tl_assert_eq "config ok" "$out" "-n output"

# Unknown key, unknown section, bad value, bad log level.
expect_check_fails "$(variant unknown '/^\[vault\]/a colour = blue')" "unknown key" 'unknown key "colour"'
expect_check_fails "$(variant section '$a [extra]\nx = 1')" "unknown section" 'unknown key "x"'
expect_check_fails "$(variant batch '/^\[vault\]/a fetch_batch = lots')" "bad number" 'fetch_batch'
expect_check_fails "$(variant level 's/^level = .*/level = chatty/')" "bad log level" 'chatty'

# Missing key file.
expect_check_fails "$(variant missing 's#^pseudonym_key = .*#pseudonym_key = ../keys/no-such.key#')" \
	"missing key file" 'no-such.key'

# A secret key file readable by others.
cp -p "$TL_KEYS/vault-db.key" "$TL_KEYS/vault-db-open.key"
chmod 0644 "$TL_KEYS/vault-db-open.key"
expect_check_fails "$(variant open 's#^database_key = .*#database_key = ../keys/vault-db-open.key#')" \
	"key file mode 0644" 'chmod 600'

# A key file with the wrong length.
printf 'abcd\n' >"$TL_KEYS/vault-db-short.key"
chmod 0600 "$TL_KEYS/vault-db-short.key"
expect_check_fails "$(variant short 's#^database_key = .*#database_key = ../keys/vault-db-short.key#')" \
	"short key" '64 hex'

# A public key that does not belong to the secret key.
python3 -c 'import os; print(os.urandom(32).hex())' >"$TL_KEYS/other-box.pub"
expect_check_fails "$(variant pair 's#^box_public_key = .*#box_public_key = ../keys/other-box.pub#')" \
	"mismatched keypair" 'does not belong'

# [payees]: a missing exclusion key, a world-readable audit key, a
# threshold above the cap, a missing [payees] key, a malformed approvers
# file (named with its line).
expect_check_fails "$(variant nokey 's#^exclusion_key = .*#exclusion_key = ../keys/no-exclusion.key#')" \
	"missing exclusion key" 'no-exclusion.key'
cp -p "$TL_KEYS/audit-vault.key" "$TL_KEYS/audit-vault-open.key"
chmod 0644 "$TL_KEYS/audit-vault-open.key"
expect_check_fails "$(variant auditopen 's#^audit_secret_key = .*#audit_secret_key = ../keys/audit-vault-open.key#')" \
	"audit key mode 0644" 'chmod 600'
expect_check_fails "$(variant threshold 's#^dual_approval_threshold_fen = .*#dual_approval_threshold_fen = 50000001#')" \
	"threshold above the cap" 'dual_approval_threshold_fen'
expect_check_fails "$(variant noexport '/^export_public_key = /d')" "missing export key" 'export_public_key'
printf '# staff_id level pubkey\nfin.wang district %s\nfin.zhao mayor %s\n' \
	"$(python3 -c 'import os; print(os.urandom(32).hex())')" \
	"$(python3 -c 'import os; print(os.urandom(32).hex())')" >"$T/etc/approvers-bad.txt"
expect_check_fails "$(variant approvers 's#^approvers_file = .*#approvers_file = approvers-bad.txt#')" \
	"bad approvers level" 'approvers-bad.txt line 3: level must be district or city'

# A first real start creates the encrypted database; stop cleanly.
tl_start_vault
tl_stop_vault
[[ -s $TL_VAULT_DB ]] || tl_fail "the vault did not create $TL_VAULT_DB"
! plaintext_header "$TL_VAULT_DB" || tl_fail "the vault database is plaintext"
mode=$(stat -c %a "$TL_VAULT_DB")
tl_assert_eq 600 "$mode" "vault database file mode"

# run_refused INI WHAT NEEDLE: a real start exits non-zero with NEEDLE.
run_refused() {
	local ini=$1 what=$2 needle=$3 rc=0 log=$T/log/vault-refused.log
	: >"$log"
	timeout $((30 * TL_SLOW)) "$TL_BIN_VAULT" -c "$ini" >"$log" 2>&1 </dev/null || rc=$?
	((rc != 0 && rc != 124)) || tl_fail "$what: vault exit status $rc (expected a refusal)"
	tl_assert_contains "$(<"$log")" "$needle" "$what: vault log"
	tl_assert_contains "$(<"$log")" "refusing to start" "$what: vault log"
}

# Wrong database key.
python3 -c 'import os; print(os.urandom(32).hex())' >"$TL_KEYS/vault-db-wrong.key"
chmod 0600 "$TL_KEYS/vault-db-wrong.key"
run_refused "$(variant wrongkey 's#^database_key = .*#database_key = ../keys/vault-db-wrong.key#')" \
	"wrong database key" "wrong key or not a Tipline database"

# The database replaced by a plaintext SQLite file.
mv "$TL_VAULT_DB" "$TL_VAULT_DB.real"
rm -f "$TL_VAULT_DB-wal" "$TL_VAULT_DB-shm"
sqlcipher "$TL_VAULT_DB" "CREATE TABLE deposits(x); INSERT INTO deposits VALUES ('planted');"
plaintext_header "$TL_VAULT_DB" || tl_fail "could not make a plaintext file"
run_refused "$TL_VAULT_INI" "plaintext database" "plaintext"
# ...and it was left as it was: no key applied, nothing written.
plaintext_header "$TL_VAULT_DB" || tl_fail "the plaintext file was modified"
[[ ! -e $TL_VAULT_DB-wal ]] || tl_fail "the vault opened the plaintext file"

# Put the real database back: the vault starts again.
rm -f "$TL_VAULT_DB"
mv "$TL_VAULT_DB.real" "$TL_VAULT_DB"
tl_start_vault
tl_stop_vault

tl_pass

#!/usr/bin/env bash
# `tipline keygen`: the issue-5 keys (payouts database key, payouts NATS
# password, finance export pair, vault exclusion key) are made with the
# right sizes and modes, never overwritten, and the finance export secret
# key may live only on the finance officer's machine: once it is moved
# away, keygen keeps the public key and still succeeds, while a vault-box
# public key without its secret key is still refused.  Needs no NATS.
set -euo pipefail
TL_SRC_DIR=${TL_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TL_BUILD_DIR=${TL_BUILD_DIR:-$TL_SRC_DIR/build}
cli=$TL_BUILD_DIR/cli/tipline
name=keygen_test
fail() { printf '[%s] FAIL: %s\n' "$name" "$*" >&2; exit 1; }
contains() { [[ $1 == *"$2"* ]] || fail "${3:-output} does not contain '$2': $1"; }

[[ -x $cli ]] || fail "$cli not built"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
k=$T/keys

out=$("$cli" keygen "$k") || fail "keygen: $out"
# name mode bytes-of-file (32-byte keys are 64 hex + newline; passwords 32 + newline)
while read -r f mode size; do
	contains "$out" "created  $k/$f" "keygen output"
	[[ $(stat -c %a "$k/$f") == "$mode" ]] || fail "$f has mode $(stat -c %a "$k/$f"), expected $mode"
	[[ $(wc -c <"$k/$f") == "$size" ]] || fail "$f has $(wc -c <"$k/$f") bytes, expected $size"
done <<'LIST'
payouts-db.key 600 65
vault-exclusion.key 600 65
nats-payouts.pw 600 33
finance-export.key 600 65
finance-export.pub 644 65
LIST
[[ $(<"$k/nats-payouts.pw") =~ ^[A-Za-z0-9]{32}$ ]] || fail "nats-payouts.pw is not 32 alphanumerics"
for f in payouts-db.key vault-exclusion.key finance-export.key finance-export.pub; do
	[[ $(<"$k/$f") =~ ^[0-9a-f]{64}$ ]] || fail "$f is not 32 bytes of hex"
done
# Distinct keys, not one random draw written twice.
[[ $(sort -u "$k/payouts-db.key" "$k/vault-exclusion.key" "$k/vault-db.key" | wc -l) == 3 ]] ||
	fail "database and exclusion keys are not distinct"

# Run again: everything kept, nothing changed.
sum=$(cd "$k" && sha256sum -- *)
out=$("$cli" keygen "$k") || fail "second keygen: $out"
contains "$out" "kept     $k/finance-export.key" "second keygen"
contains "$out" "kept     $k/payouts-db.key" "second keygen"
[[ $out != *created* ]] || fail "second keygen created something: $out"
[[ $(cd "$k" && sha256sum -- *) == "$sum" ]] || fail "second keygen changed a key"

# finance-export.pub is the public key of finance-export.key: a lost .pub is
# derived again from the secret key, identical.
pub=$(<"$k/finance-export.pub")
rm "$k/finance-export.pub"
"$cli" keygen "$k" >/dev/null || fail "keygen with only finance-export.key"
[[ $(<"$k/finance-export.pub") == "$pub" ]] || fail "re-derived finance-export.pub differs"

# The finance officer takes the secret key away: keygen keeps the lone
# public key, makes no new pair and succeeds.
mv "$k/finance-export.key" "$T/finance-officer.key"
out=$("$cli" keygen "$k") || fail "keygen without finance-export.key: $out"
contains "$out" "kept     $k/finance-export.pub" "keygen without finance-export.key"
[[ ! -e $k/finance-export.key ]] || fail "keygen minted a new finance-export.key"
[[ $(<"$k/finance-export.pub") == "$pub" ]] || fail "finance-export.pub changed"

# The vault's box key is different: its secret key belongs here, so a lone
# public key is an error, not something to paper over.
mv "$k/vault-box.key" "$T/vault-box.key"
rc=0
out=$("$cli" keygen "$k" 2>&1) || rc=$?
[[ $rc == 1 ]] || fail "keygen with a lone vault-box.pub: exit $rc, expected 1"
contains "$out" "vault-box.pub exists without" "lone vault-box.pub"
[[ ! -e $k/vault-box.key ]] || fail "keygen minted a new vault-box.key"

printf '[%s] PASS\n' "$name"

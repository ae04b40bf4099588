#!/usr/bin/env bash
# `tipline audit`: keygen makes the audit signing pairs; a chain written with
# the hidden `audit append` verifies; a sed edit, a deleted line and a torn
# last line are each reported as "BROKEN at entry N" with exit status 1; the
# wrong public key is refused; appending after tampering at the tail is
# refused.  Needs no NATS: it uses its own temp folder, not tl_setup.
set -euo pipefail
TL_SRC_DIR=${TL_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TL_BUILD_DIR=${TL_BUILD_DIR:-$TL_SRC_DIR/build}
cli=$TL_BUILD_DIR/cli/tipline
name=audit_cli_test
fail() { printf '[%s] FAIL: %s\n' "$name" "$*" >&2; exit 1; }
contains() { [[ $1 == *"$2"* ]] || fail "${3:-output} does not contain '$2': $1"; }

[[ -x $cli ]] || fail "$cli not built"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
k=$T/keys

# keygen: new pairs, right modes, idempotent ("kept" the second time).
out=$("$cli" keygen "$k") || fail "keygen: $out"
for s in vault payouts; do
	contains "$out" "created  $k/audit-$s.key" "keygen output"
	contains "$out" "created  $k/audit-$s.pub" "keygen output"
	[[ $(stat -c %a "$k/audit-$s.key") == 600 ]] || fail "audit-$s.key is not 0600"
	[[ $(wc -c <"$k/audit-$s.key") == 129 ]] || fail "audit-$s.key is not 64 bytes of hex"
done
sum=$(sha256sum "$k"/audit-*)
out=$("$cli" keygen "$k") || fail "second keygen: $out"
contains "$out" "kept     $k/audit-vault.key" "second keygen"
[[ $(sha256sum "$k"/audit-*) == "$sum" ]] || fail "second keygen changed an audit key"
# A lost public key is derived again from the secret key.
rm "$k/audit-payouts.pub"
"$cli" keygen "$k" >/dev/null || fail "keygen with only audit-payouts.key"
[[ $(sha256sum "$k"/audit-*) == "$sum" ]] || fail "re-derived audit-payouts.pub differs"

chain=$T/vault.audit
for i in 1 2 3 4 5; do
	"$cli" audit append --key "$k/audit-vault.key" "$chain" "li.ming" approve "payout:p$i" >/dev/null ||
		fail "append $i"
done
out=$("$cli" audit verify --pubkey "$k/audit-vault.pub" "$chain") || fail "verify: $out"
contains "$out" "ok: 5 entries, head " "verify"
[[ $(wc -l <"$chain") == 5 ]] || fail "chain does not have 5 lines"

# Wrong key: the payouts key did not sign this chain.
rc=0
out=$("$cli" audit verify --pubkey "$k/audit-payouts.pub" "$chain") || rc=$?
[[ $rc == 1 ]] || fail "verify with the wrong key exited $rc"
contains "$out" "BROKEN at entry 1 (line 1): bad signature" "wrong key"

# Tamper with entry 3's object id.
cp "$chain" "$T/orig"
sed -i '3s/payout:p3/payout:p9/' "$chain"
rc=0
out=$("$cli" audit verify --pubkey "$k/audit-vault.pub" "$chain") || rc=$?
[[ $rc == 1 ]] || fail "verify of a tampered chain exited $rc"
contains "$out" "BROKEN at entry 3 (line 3)" "tampered"
# Two chains: one good, one bad -> exit 1, both reported.
rc=0
out=$("$cli" audit verify --pubkey "$k/audit-vault.pub" "$T/orig" "$chain") || rc=$?
[[ $rc == 1 ]] || fail "verify of good+bad exited $rc"
contains "$out" "$T/orig: ok: 5 entries" "two chains"

# A deleted entry is a gap.
sed '2d' "$T/orig" >"$chain"
rc=0
out=$("$cli" audit verify --pubkey "$k/audit-vault.pub" "$chain") || rc=$?
[[ $rc == 1 ]] || fail "verify with a deleted entry exited $rc"
contains "$out" "BROKEN at entry 2 (line 2): seq gap" "deleted entry"

# A torn last line; appending to it is refused.
head -c -20 "$T/orig" >"$chain"
rc=0
out=$("$cli" audit verify --pubkey "$k/audit-vault.pub" "$chain") || rc=$?
[[ $rc == 1 ]] || fail "verify of a torn chain exited $rc"
contains "$out" "BROKEN at entry 5 (line 5): truncated last line" "torn"
rc=0
"$cli" audit append --key "$k/audit-vault.key" "$chain" li.ming approve payout:p6 >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "append to a torn chain exited $rc"

# Continuing the good chain keeps it valid.
cp "$T/orig" "$chain"
"$cli" audit append --key "$k/audit-vault.key" --reason over_cap "$chain" system reject payout:p6 \
	>/dev/null || fail "append 6"
out=$("$cli" audit verify --pubkey "$k/audit-vault.pub" "$chain") || fail "verify after append: $out"
contains "$out" "ok: 6 entries" "continued chain"

# Free text is refused at append time.
rc=0
"$cli" audit append --key "$k/audit-vault.key" "$chain" li.ming approve "tip text" >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "append of free text exited $rc"

# Usage errors exit 2.
rc=0
"$cli" audit verify >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "verify without a chain exited $rc"

printf '[%s] PASS\n' "$name"

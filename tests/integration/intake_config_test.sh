#!/usr/bin/env bash
# tipline-intake -n: "config ok" for the generated config and for one with
# trusted_proxies; clear failures for an unknown key, a missing key file, a
# key file others can read and a trusted_proxies list that is not addresses.
set -euo pipefail
source "${TL_SRC_DIR:-.}/tests/lib.sh"
tl_setup
tl_need "$TL_BIN_INTAKE"

out=$("$TL_BIN_INTAKE" -c "$TL_INTAKE_INI" -n)
tl_assert_eq "config ok" "$out" "-n on the generated config"

# expect_fail NAME CONFIG NEEDLE
expect_fail() {
	local out rc=0
	out=$("$TL_BIN_INTAKE" -c "$2" -n 2>&1) || rc=$?
	[[ $rc != 0 ]] || tl_fail "$1: -n exited 0"
	tl_assert_contains "$out" "$3" "$1: message"
}

cp "$TL_INTAKE_INI" "$T/etc/unknown.ini"
printf '[intake]\nlisten_prot = 1\n' >>"$T/etc/unknown.ini"
expect_fail unknown-key "$T/etc/unknown.ini" listen_prot

sed 's#^intake_key = .*#intake_key = ../keys/nope.key#' "$TL_INTAKE_INI" >"$T/etc/missing.ini"
expect_fail missing-key "$T/etc/missing.ini" nope.key

cp "$TL_KEYS/intake.key" "$TL_KEYS/loose.key"
chmod 0644 "$TL_KEYS/loose.key"
sed 's#^intake_key = .*#intake_key = ../keys/loose.key#' "$TL_INTAKE_INI" >"$T/etc/loose.ini"
expect_fail loose-key "$T/etc/loose.ini" loose.key

sed 's#^vault_public_key = .*#vault_public_key = ../keys/none.pub#' "$TL_INTAKE_INI" >"$T/etc/nopub.ini"
expect_fail missing-public-key "$T/etc/nopub.ini" none.pub

# with_intake NAME LINE: the generated config with LINE in [intake].
with_intake() {
	awk -v line="$2" '{ print } $0 == "[intake]" { print line }' "$TL_INTAKE_INI" >"$T/etc/$1.ini"
}
with_intake proxies 'trusted_proxies = 127.0.0.1, ::1'
out=$("$TL_BIN_INTAKE" -c "$T/etc/proxies.ini" -n)
tl_assert_eq "config ok" "$out" "-n with trusted_proxies"
for bad in nginx.local 127.0.0.1/8 "127.0.0.1,,::1" "127.0.0.1:8443" "127.0.0.1,"; do
	with_intake badproxy "trusted_proxies = $bad"
	expect_fail "trusted_proxies = $bad" "$T/etc/badproxy.ini" "trusted_proxies"
done

out=$("$TL_BIN_INTAKE" 2>&1) && tl_fail "no -c accepted" || true
tl_assert_contains "$out" "usage" "usage"
tl_pass

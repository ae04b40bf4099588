#!/usr/bin/env bash
# Link rules from DESIGN.md section 6, checked on the built binaries:
#   - no binary maps plain libsqlite3 (it would silently disable SQLCipher);
#   - only the vault (and later districts/payouts) map libsqlcipher;
#   - only the processes that serve HTTP map libmicrohttpd.
set -euo pipefail
b=${TL_BUILD_DIR:?}
fail=0
check() { # check BINARY must|mustnot LIB
	local bin=$1 rule=$2 lib=$3
	[[ -x $bin ]] || { echo "FAIL: $bin not built"; fail=1; return; }
	# Capture first: with pipefail, `ldd | grep -q` fails at random when grep
	# exits on the first match and ldd dies of SIGPIPE.
	local libs
	libs=$(ldd "$bin")
	if grep -q "$lib" <<<"$libs"; then
		[[ $rule == must ]] || { echo "FAIL: $(basename "$bin") maps $lib"; fail=1; }
	else
		[[ $rule == mustnot ]] || { echo "FAIL: $(basename "$bin") does not map $lib"; fail=1; }
	fi
}
for bin in "$b"/intake/tipline-intake "$b"/vault/tipline-vault "$b"/cli/tipline; do
	check "$bin" mustnot 'libsqlite3\.so'
done
check "$b"/intake/tipline-intake mustnot libsqlcipher
check "$b"/intake/tipline-intake must libmicrohttpd
check "$b"/vault/tipline-vault must libsqlcipher
check "$b"/vault/tipline-vault mustnot libmicrohttpd
check "$b"/cli/tipline mustnot libsqlcipher
for bin in "$b"/districts/tipline-district "$b"/districts/tl-district-ctl; do
	check "$bin" mustnot 'libsqlite3\.so'
	check "$bin" must libsqlcipher
done
# tipline-district serves the responder console (docs/console.md); the
# operator tool serves nothing.
check "$b"/districts/tipline-district must libmicrohttpd
check "$b"/districts/tl-district-ctl mustnot libmicrohttpd
[[ $fail == 0 ]] || exit 1

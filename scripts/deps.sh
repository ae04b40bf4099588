#!/usr/bin/env bash
# scripts/deps.sh - installs the Debian 12 packages Tipline needs to build,
# run and test, and nothing else.  Quiet when everything is present; runs
# apt-get update only when something is missing.  Needs root (or sudo).
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libnats-dev nats-server
	libsodium-dev libsqlcipher-dev sqlcipher
	libmicrohttpd-dev libjansson-dev libinih-dev
	libcmocka-dev
	curl wrk
	clang libclang-rt-14-dev # libFuzzer (make fuzz)
	openssl python3          # test harness, cluster docs
	chromium fonts-wqy-microhei # console browser test (tests/e2e/console_browser_test.sh);
	                         # the font makes the screenshots' Chinese legible
)
# npm (with node) for the browser test: Debian's package unless a node
# that brings its own npm (e.g. NodeSource's nodejs) is already installed.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
browser_modules() {
	# playwright-core for the browser test, pinned by package-lock.json;
	# it drives Debian's /usr/bin/chromium and downloads no browser.
	local dir
	dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/browser" && pwd)
	[[ -d $dir/node_modules/playwright-core ]] && return 0
	echo "deps: npm ci in $dir" >&2
	(cd "$dir" && npm ci --no-audit --no-fund)
}

if ((${#missing[@]} == 0)); then
	browser_modules
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2
sudo=()
if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "deps: run as root (or install sudo)" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y "${missing[@]}"
browser_modules

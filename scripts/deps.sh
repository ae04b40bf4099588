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
)
# Deliberately absent until the issues that need them: chromium, npm
# (browser tests).

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "deps: run as root (or install sudo)" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y "${missing[@]}"

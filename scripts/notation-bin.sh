#!/usr/bin/env bash
# Prints the path of notation-signer (scripts/notation-signer/: our Go program over the Notary
# Project's notation-go v1.3.2, notation-core-go v1.3.0, tspclient-go v1.0.0 and oras-go v2.7.0
# from the Go module proxy), building it once per machine and source into
# ${XDG_CACHE_HOME:-~/.cache}/portieris/notation-signer-<hash of go.mod, go.sum, main.go>/.
# The build runs at `nice 10` with one package at a time (-p 1); the first time on two cores
# it takes about a minute (measured 2026-12-06: 46 s with empty Go module and build caches);
# later calls return at once.
#
#   scripts/notation-bin.sh              print the path (building if needed)
#   scripts/notation-bin.sh ARGS...      run notation-signer with ARGS (sign ..., verify ...)
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/notation-signer" && pwd)
hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/portieris/notation-signer-$hash
bin=$cache/notation-signer
if [[ ! -x $bin ]]; then
	mkdir -p "$cache"
	# Built into a scratch file and moved, so an interrupted build never leaves a binary that
	# the check above would take for a finished one.
	tmp=$(mktemp "$cache/build.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	echo "building notation-signer (about a minute the first time)" >&2
	(
		cd "$src"
		# -mod=readonly: go.sum is committed; the build must not rewrite it.
		GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" nice -n 10 go build -p 1 -trimpath -o "$tmp" . >&2
	)
	mv "$tmp" "$bin"
	trap - EXIT
fi
if [[ $# -eq 0 ]]; then
	echo "$bin"
else
	exec "$bin" "$@"
fi

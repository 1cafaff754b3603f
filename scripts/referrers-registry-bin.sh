#!/usr/bin/env bash
# Prints the path of the test rig's registry with the OCI 1.1 referrers API, building it once
# per machine, version and source into ${XDG_CACHE_HOME:-~/.cache}/portieris/referrers-registry-<version>/:
# scripts/rig/referrers-registry/main.go over go-containerregistry's pkg/registry
# (GGCR_VERSION, default v0.22.1), from the Go module proxy. The build runs at `nice 10` and
# takes under a minute on two cores the first time (36 s with an empty Go build cache).
#
# Why not distribution: distribution v3.1.2 (the newest release the proxy serves) has no
# referrers route (registry/api/v2/routes.go: base, manifest, tags, blob, uploads, catalog;
# built and run, it answers the referrers path 404), and neither has Debian's docker-registry
# 2.8. zot is not on the proxy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=${GGCR_VERSION:-v0.22.1}
source=$here/rig/referrers-registry/main.go
cache=${XDG_CACHE_HOME:-$HOME/.cache}/portieris/referrers-registry-$version
bin=$cache/registry
stamp=$(sha256sum "$source" | cut -d' ' -f1)
if [[ ! -x $bin || $(cat "$bin.stamp" 2>/dev/null) != "$stamp" ]]; then
	mkdir -p "$cache"
	# Built in a scratch module and moved, so an interrupted build never leaves a binary that
	# the check above would take for a finished one.
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	cp "$source" "$tmp/main.go"
	cat >"$tmp/go.mod" <<-MOD
		module portieris.local/referrers-registry
		go 1.24
		require github.com/google/go-containerregistry $version
	MOD
	(
		cd "$tmp"
		export GOTOOLCHAIN=local GOFLAGS=-mod=mod
		go mod tidy >&2
		nice -n 10 go build -o "$tmp/registry" . >&2
	)
	mv "$tmp/registry" "$bin"
	echo "$stamp" >"$bin.stamp"
fi
echo "$bin"

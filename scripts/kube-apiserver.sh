#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy (once per machine and version) and prints its
# path. k8s.io/kubernetes requires its staging modules at v0.0.0, so a scratch module replaces
# each with its published v0.<minor>.<patch>.
set -euo pipefail
version=${KUBE_VERSION:-v1.34.4}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/portieris/kube-$version
bin=$cache/kube-apiserver
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache/src"
cd "$cache/src"
staging="0.${version#v1.}"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
cat > go.mod <<MOD
module portieris.local/kube
go 1.24
require k8s.io/kubernetes $version
MOD
echo 'package main' > tools.go
echo 'import _ "k8s.io/kubernetes/cmd/kube-apiserver"' >> tools.go
echo 'func main() {}' >> tools.go
go mod download -json "k8s.io/kubernetes@$version" > /dev/null
gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$version.mod
for m in $(grep -E '^\s+k8s.io/[a-z0-9-]+ v0.0.0' "$gomod" | awk '{print $1}'); do
  go mod edit -replace "$m=$m@v$staging"
done
go mod tidy >&2
go build -o "$bin" k8s.io/kubernetes/cmd/kube-apiserver >&2
echo "$bin"

#!/usr/bin/env bash
# Builds a Kubernetes control-plane binary from the Go module proxy (once per machine and
# version) and prints its path:
#
#   scripts/kube-bin.sh kube-apiserver            k8s.io/kubernetes/cmd/kube-apiserver
#   scripts/kube-bin.sh kube-controller-manager   k8s.io/kubernetes/cmd/kube-controller-manager
#   scripts/kube-bin.sh kubectl                   k8s.io/kubernetes/cmd/kubectl (matches the server)
#   scripts/kube-bin.sh etcd                      go.etcd.io/etcd/server/v3 (the etcd server)
#
# Versions: KUBE_VERSION (default v1.34.4), ETCD_VERSION (default v3.6.16). Binaries are cached
# under ${XDG_CACHE_HOME:-~/.cache}/portieris/{kube,etcd}-<version>/. Builds run at `nice 10`.
#
# k8s.io/kubernetes requires its staging modules at v0.0.0, so a scratch module replaces each
# with its published v0.<minor>.<patch>. etcd's server module has `replace` directives in its
# go.mod (so `go install module@version` refuses it); a scratch module requiring it at the
# wanted version builds it from the published sibling modules instead.
set -euo pipefail

name=${1:?usage: kube-bin.sh kube-apiserver|kube-controller-manager|kubectl|etcd}
root=${XDG_CACHE_HOME:-$HOME/.cache}/portieris
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

build_kube() {
	local version=${KUBE_VERSION:-v1.34.4}
	local cache=$root/kube-$version
	local bin=$cache/$name
	# The version is linked in, as Kubernetes' own build does: without it the API server
	# reports v0.0.0-master, and Helm refuses charts with a kubeVersion constraint.
	local minor=${version#v1.}
	minor=${minor%%.*}
	local ldflags="" pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	if [[ -x $bin && $(cat "$bin.stamp" 2>/dev/null) == "$ldflags" ]]; then
		echo "$bin"
		return
	fi
	mkdir -p "$cache/src"
	cd "$cache/src"
	local staging="0.${version#v1.}"
	cat >go.mod <<-MOD
		module portieris.local/kube
		go 1.24
		require k8s.io/kubernetes $version
	MOD
	{
		echo 'package main'
		echo 'import ('
		echo '	_ "k8s.io/kubernetes/cmd/kube-apiserver"'
		echo '	_ "k8s.io/kubernetes/cmd/kube-controller-manager"'
		echo '	_ "k8s.io/kubernetes/cmd/kubectl"'
		echo ')'
		echo 'func main() {}'
	} >tools.go
	go mod download -json "k8s.io/kubernetes@$version" >/dev/null
	local gomod
	gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$version.mod
	local m
	while read -r m; do
		go mod edit -replace "$m=$m@v$staging"
	done < <(grep -E '^\s+k8s.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}')
	go mod tidy >&2
	nice -n 10 go build -ldflags "$ldflags" -o "$bin.tmp" "k8s.io/kubernetes/cmd/$name" >&2
	mv "$bin.tmp" "$bin"
	echo "$ldflags" >"$bin.stamp"
	echo "$bin"
}

build_etcd() {
	local version=${ETCD_VERSION:-v3.6.16}
	local cache=$root/etcd-$version
	local bin=$cache/etcd
	if [[ -x $bin ]]; then
		echo "$bin"
		return
	fi
	mkdir -p "$cache/src"
	cd "$cache/src"
	cat >go.mod <<-MOD
		module portieris.local/etcd
		go 1.24
		require go.etcd.io/etcd/server/v3 $version
	MOD
	printf 'package main\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\nfunc main() {}\n' >tools.go
	go mod tidy >&2
	nice -n 10 go build -o "$bin.tmp" go.etcd.io/etcd/server/v3 >&2
	mv "$bin.tmp" "$bin"
	echo "$bin"
}

case $name in
kube-apiserver | kube-controller-manager | kubectl) build_kube ;;
etcd) build_etcd ;;
*)
	echo "kube-bin.sh: unknown binary $name (kube-apiserver, kube-controller-manager, kubectl, etcd)" >&2
	exit 2
	;;
esac

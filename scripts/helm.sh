#!/usr/bin/env bash
# Prints the path of a helm binary, building it once per machine and version with
# `go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION` (default v3.21.4, whose Kubernetes
# libraries are 1.36: HELM_K8S_MINOR) into
# ${XDG_CACHE_HOME:-~/.cache}/portieris/helm-<version>/. A helm already on PATH is not used:
# the tests want a known version.
#
#   scripts/helm.sh              print the path (building if needed)
#   scripts/helm.sh ARGS...      run that helm with ARGS
set -euo pipefail
version=${HELM_VERSION:-v3.21.4}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/portieris/helm-$version
bin=$cache/helm
# As helm's Makefile links them: its version, and the Kubernetes version of its client
# libraries, which `helm template` and `helm lint` assume (v1.20 otherwise).
k8s_minor=${HELM_K8S_MINOR:-36}
ldflags="-X helm.sh/helm/v3/internal/version.version=$version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
	ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
if [[ ! -x $bin || $(cat "$bin.stamp" 2>/dev/null) != "$ldflags" ]]; then
	mkdir -p "$cache"
	GOBIN=$cache GOTOOLCHAIN=local GOFLAGS=-mod=mod nice -n 10 \
		go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$version" >&2
	echo "$ldflags" >"$bin.stamp"
fi
if [[ $# -eq 0 ]]; then
	echo "$bin"
else
	exec "$bin" "$@"
fi

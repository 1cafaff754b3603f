# Sourced by the scripts that build test peers from the Go module proxy (cosign-bin.sh,
# sigstore-bin.sh, syft-bin.sh).
#
# go_install_cached NAME VERSION PACKAGE BUILT [LDFLAGS]: prints the path of NAME, built once
# per machine and version with `go install [-ldflags LDFLAGS] PACKAGE@VERSION` (whose binary is
# called BUILT) into ${XDG_CACHE_HOME:-~/.cache}/portieris/NAME-VERSION/. Built into a scratch
# GOBIN and moved, so an interrupted build never leaves a binary that the check would take for a
# finished one.
go_install_cached() {
	local name=$1 version=$2 package=$3 built=$4 ldflags=${5:-}
	local cache=${XDG_CACHE_HOME:-$HOME/.cache}/portieris/$name-$version
	local bin=$cache/$name tmp
	if [[ ! -x $bin ]]; then
		mkdir -p "$cache"
		tmp=$(mktemp -d "$cache/build.XXXXXX")
		echo "building $package@$version (several minutes the first time)" >&2
		if ! GOBIN=$tmp GOTOOLCHAIN=local GOFLAGS=-mod=mod nice -n 10 \
			go install ${ldflags:+-ldflags="$ldflags"} "$package@$version" >&2; then
			rm -rf "$tmp"
			return 1
		fi
		mv "$tmp/$built" "$bin"
		rm -rf "$tmp"
	fi
	echo "$bin"
}

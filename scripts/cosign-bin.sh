#!/usr/bin/env bash
# Prints the path of a cosign binary, building it once per machine and version with
# `go install github.com/sigstore/cosign/vN/cmd/cosign@$COSIGN_VERSION` (default v2.6.5; the
# module path follows the major version: COSIGN_VERSION=v3.1.3 builds from .../cosign/v3) into
# ${XDG_CACHE_HOME:-~/.cache}/portieris/cosign-<version>/. A cosign already on PATH is not
# used: the tests and the committed fixtures want a known version. The build runs at `nice 10`
# and takes several minutes on two cores the first time.
#
#   scripts/cosign-bin.sh              print the path (building if needed)
#   scripts/cosign-bin.sh ARGS...      run that cosign with ARGS
set -euo pipefail
version=${COSIGN_VERSION:-v2.6.5}
case $version in
v2.*) module=github.com/sigstore/cosign/v2 ;;
v3.*) module=github.com/sigstore/cosign/v3 ;;
*) echo "cosign-bin.sh: unsupported COSIGN_VERSION $version (v2.x or v3.x)" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-install.sh"
bin=$(go_install_cached cosign "$version" "$module/cmd/cosign" cosign)
if [[ $# -eq 0 ]]; then
	echo "$bin"
else
	exec "$bin" "$@"
fi

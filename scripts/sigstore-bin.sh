#!/usr/bin/env bash
# Prints the path of one of the loopback Sigstore's servers, building it once per machine and
# version with `go install` from the Go module proxy into
# ${XDG_CACHE_HOME:-~/.cache}/portieris/<tool>-<version>/ (the style of scripts/cosign-bin.sh:
# built into a scratch GOBIN and moved, at `nice 10`, with the local Go toolchain).
#
#   scripts/sigstore-bin.sh TOOL             print the path (building if needed)
#   scripts/sigstore-bin.sh TOOL ARGS...     run it with ARGS
#   scripts/sigstore-bin.sh all              build every tool, one at a time
#
# TOOL (version override)                          package
#   fulcio            (FULCIO_VERSION v1.8.8)        github.com/sigstore/fulcio
#   rekor-tiles       (REKOR_TILES_VERSION v2.3.0)   github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix
#   tesseract         (TESSERACT_VERSION v0.1.1)     github.com/transparency-dev/tesseract/cmd/tesseract/posix
#   timestamp-server  (TSA_VERSION v2.1.3)           github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server
# cosign itself comes from scripts/cosign-bin.sh (COSIGN_VERSION=v3.1.3 for the v3 CLI).
set -euo pipefail
tool=${1:?usage: sigstore-bin.sh fulcio|rekor-tiles|tesseract|timestamp-server|all [ARGS...]}
shift
if [[ $tool == all ]]; then
	for t in tesseract timestamp-server rekor-tiles fulcio; do "$0" "$t" >/dev/null; done
	COSIGN_VERSION=${COSIGN_VERSION:-v3.1.3} "$(dirname "$0")/cosign-bin.sh" >/dev/null
	exit 0
fi
case $tool in
fulcio) version=${FULCIO_VERSION:-v1.8.8} pkg=github.com/sigstore/fulcio built=fulcio ;;
rekor-tiles) version=${REKOR_TILES_VERSION:-v2.3.0} pkg=github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix built=posix ;;
tesseract) version=${TESSERACT_VERSION:-v0.1.1} pkg=github.com/transparency-dev/tesseract/cmd/tesseract/posix built=posix ;;
timestamp-server) version=${TSA_VERSION:-v2.1.3} pkg=github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server built=timestamp-server ;;
*) echo "sigstore-bin.sh: unknown tool $tool" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-install.sh"
bin=$(go_install_cached "$tool" "$version" "$pkg" "$built")
if [[ $# -eq 0 ]]; then
	echo "$bin"
else
	exec "$bin" "$@"
fi

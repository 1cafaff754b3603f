#!/usr/bin/env bash
# Prints the path of a syft binary (the SBOM generator: SPDX JSON, CycloneDX JSON), building it
# once per machine and version with `go install github.com/anchore/syft/cmd/syft@$SYFT_VERSION`
# (default v1.57.2, the newest the Go module proxy served on 2026-12-06; its go.mod says
# go 1.26.8, the local Go) into ${XDG_CACHE_HOME:-~/.cache}/portieris/syft-<version>/. A syft
# already on PATH is not used: the committed fixtures want a known version. The build runs at
# `nice 10`; the first time it downloads about 2 GB of modules and takes several minutes on two
# cores (see the timing in scripts/attestation-vectors.sh).
#
#   scripts/syft-bin.sh              print the path (building if needed)
#   scripts/syft-bin.sh ARGS...      run that syft with ARGS
#
# An image on the test rig's plain-HTTP registry:
#   SYFT_REGISTRY_INSECURE_USE_HTTP=true scripts/syft-bin.sh scan registry:127.0.0.1:5560/test/app@sha256:... -o spdx-json
# An OCI layout directory (skopeo copy ... oci:DIR:TAG, or scripts/rig/mkimage.py):
#   scripts/syft-bin.sh scan oci-dir:DIR -o cyclonedx-json
set -euo pipefail
version=${SYFT_VERSION:-v1.57.2}
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-install.sh"
# syft's release builds set main.version (printed by `syft version`, written into every SBOM's
# creator tool); go install leaves "[not provided]" unless told.
bin=$(go_install_cached syft "$version" github.com/anchore/syft/cmd/syft syft "-X main.version=${version#v}")
if [[ $# -eq 0 ]]; then
	echo "$bin"
else
	# No update check (no network but the registries), no config files from HOME.
	SYFT_CHECK_FOR_APP_UPDATE=false exec "$bin" "$@"
fi

#!/usr/bin/env bash
# Runs every test of the workspace against real peers: starts the test rig (registry,
# notary-signer, notary-servers, token server; installs their Debian packages if missing; a
# second registry with the OCI referrers API, built from the Go module proxy once per machine), a
# Kubernetes API server with etcd and the controller-manager, and cosign (built from the Go
# module proxy once per machine, cached under ~/.cache/portieris), a loopback Sigstore (Fulcio,
# TesseraCT, rekor-tiles, the timestamp authority, an OIDC issuer, and cosign v3, all built
# from the Go module proxy once per machine), syft (likewise), notation-signer (our Go program
# over notation-go, likewise), python-tuf (from PyPI, once per machine); then the Python
# binding's pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# webhook/tests/attestations.rs makes SBOMs with syft, built from the Go module proxy once per
# machine (about 8 minutes cold, 2 GB of modules): in the background while the peers start.
syft_log=$(mktemp)
bash scripts/syft-bin.sh >"$syft_log" 2>&1 &
syft_build=$!
# webhook/tests/notation*.rs sign with notation-go through scripts/notation-signer/ (about a
# minute cold): in the background too.
notation_log=$(mktemp)
bash scripts/notation-bin.sh >"$notation_log" 2>&1 &
notation_build=$!
bash scripts/rig.sh start
bash scripts/kube.sh start
# webhook/tests/sigstore.rs signs with cosign v3 against it (scripts/sigstore/README.md).
bash scripts/sigstore.sh start
# webhook/tests/cosign.rs signs with the real cosign (built once per machine and version).
PORTIERIS_COSIGN=$(bash scripts/cosign-bin.sh)
export PORTIERIS_COSIGN
# webhook/tests/sigstore_tuf.rs writes TUF repositories with python-tuf (installed from PyPI
# once per machine into a virtualenv under ~/.cache/portieris; seconds).
PORTIERIS_TUF_PYTHON=$(bash scripts/tuf-py.sh)
export PORTIERIS_TUF_PYTHON
if ! wait "$syft_build"; then
	cat "$syft_log" >&2
	exit 1
fi
PORTIERIS_SYFT=$(tail -n 1 "$syft_log")
export PORTIERIS_SYFT
if ! wait "$notation_build"; then
	cat "$notation_log" >&2
	exit 1
fi
PORTIERIS_NOTATION_SIGNER=$(tail -n 1 "$notation_log")
export PORTIERIS_NOTATION_SIGNER
eval "$(bash scripts/rig.sh env)"
export PORTIERIS_RIG_DIR
cargo test --workspace --all-targets
cargo test --workspace --doc
bash scripts/python-test.sh

#!/usr/bin/env bash
# Runs every test of the workspace against real peers: starts the test rig (registry,
# notary-signer, notary-servers, token server; installs their Debian packages if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/rig.sh start
eval "$(bash scripts/rig.sh env)"
export PORTIERIS_RIG_DIR
cargo test --workspace --all-targets
cargo test --workspace --doc

#!/usr/bin/env bash
# Runs every test of the workspace. Later suites start their real peers from here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc

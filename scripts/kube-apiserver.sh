#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy (once per machine and version) and prints its
# path. Kept for existing callers; scripts/kube-bin.sh builds every control-plane binary.
set -euo pipefail
exec bash "$(dirname "$0")/kube-bin.sh" kube-apiserver

#!/usr/bin/env bash
# Regenerates the notary unit-test data in this folder. Never edit the outputs by hand.
#   rsa2048.pem      an RSA test key (openssl), because generating one in a debug build is slow
#   go_vectors.json  canonical JSON and key IDs computed by notary's own Go code
#                    (github.com/docker/go canonical/json, notary v0.7.0 tuf/data, tuf/utils)
# Needs openssl and Go (modules from the Go module proxy).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [[ "${1:-}" == "--rsa" || ! -f "$here/rsa2048.pem" ]]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$here/rsa2048.pem"
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp "$here/go_vectors.go" "$scratch/main.go"
cd "$scratch"
cat > go.mod <<'MOD'
module govectors

go 1.21
MOD
go get github.com/docker/go@v1.5.1-1.0.20160303222718-d30aec9fd63c \
  github.com/theupdateframework/notary@v0.7.0
go mod tidy
go run . > "$here/go_vectors.json"
echo "wrote $here/go_vectors.json with $(go version)"

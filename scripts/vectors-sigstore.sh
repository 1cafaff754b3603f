#!/usr/bin/env bash
# Copies the Sigstore vectors into core/tests/vectors/sigstore (see its README.md): the bundle
# cases of a sigstore-conformance checkout (git directory given as $1) and the trusted roots
# sigstore-python embeds (downloaded from PyPI).
#
#   scripts/vectors-sigstore.sh /path/to/sigstore-conformance/.git
set -euo pipefail
repo=${1:?usage: vectors-sigstore.sh SIGSTORE_CONFORMANCE_GIT_DIR}
out=$(cd "$(dirname "$0")/.." && pwd)/core/tests/vectors/sigstore
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git --git-dir="$repo" archive HEAD test/assets/bundle-verify | tar -x -C "$tmp"
rm -rf "$out/conformance"
cp -r "$tmp/test/assets/bundle-verify" "$out/conformance"
echo "conformance cases from commit $(git --git-dir="$repo" rev-parse HEAD)"
pip download --quiet --no-deps sigstore==4.5.1 -d "$tmp/wheel"
unzip -q "$tmp"/wheel/sigstore-*.whl 'sigstore/_store/*' -d "$tmp/wheel"
store=$tmp/wheel/sigstore/_store
cp "$store/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev/trusted_root.json" "$out/../../../src/sigstore/public-good.trusted_root.json"
# The TUF root `portieris serve` starts from to refresh the default trusted root.
cp "$store/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev/root.json" "$out/../../../../webhook/src/sigstore-tuf.root.json"
cp "$store/https%3A%2F%2Ftuf-repo-cdn.sigstage.dev/trusted_root.json" "$out/staging-trusted_root.json"

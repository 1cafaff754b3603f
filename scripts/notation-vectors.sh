#!/usr/bin/env bash
# Regenerates core/tests/fixtures/notation/: Notary Project (Notation) signature envelopes made
# by notation-signer (scripts/notation-bin.sh: notation-go v1.3.2 / notation-core-go v1.3.0)
# with `sign --out` over one fixed descriptor, with a PKI from scripts/notation/pki.sh and RFC 3161
# timestamps from the loopback Sigstore's timestamp authority (scripts/sigstore.sh start; its
# root is keys/tsa-root.crt of that state directory). Every case whose `now` is the generation
# time is checked with notation-go's own verifier (`notation-signer verify`) before anything is
# written; the script fails if notation-go disagrees with the expected outcome. The case table
# is scripts/notation/vectors.py. Every file there but README.md (and spec/, see
# scripts/vectors-notation.sh) is this script's output: never edit them by hand.
#
#   scripts/notation-vectors.sh
#
# PORTIERIS_SIGSTORE_DIR picks another loopback Sigstore (as for scripts/sigstore.sh env).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/core/tests/fixtures/notation
signer=$("$root/scripts/notation-bin.sh")
"$root/scripts/sigstore.sh" start >/dev/null
eval "$("$root/scripts/sigstore.sh" env)"
tsa_root=$PORTIERIS_SIGSTORE_DIR/keys/tsa-root.crt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/scripts/notation/pki.sh" "$work/pki" >/dev/null
# Keep README.md and spec/ (scripts/vectors-notation.sh) across regenerations.
keep=$work/keep
mkdir -p "$keep"
for f in README.md spec; do
	[[ -e $out/$f ]] && mv "$out/$f" "$keep/"
done
python3 "$root/scripts/notation/vectors.py" "$signer" "$work/pki" "$PORTIERIS_SIGSTORE_TSA_URL" "$tsa_root" "$out" || {
	mkdir -p "$out"
	for f in "$keep"/*; do [[ -e $f ]] && mv "$f" "$out/"; done
	exit 1
}
for f in "$keep"/*; do [[ -e $f ]] && mv "$f" "$out/"; done

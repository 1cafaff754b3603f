#!/usr/bin/env python3
"""Check a simple signature (`skopeo standalone-sign` / `podman push --sign-by`) for an image.

    python3 examples/python/check_simple_signature.py SIGNATURE KEYRING IMAGE DIGEST \
        [--identity matchRepoDigestOrExact|matchExact|matchRepository]

e.g. with the committed vectors:

    python3 examples/python/check_simple_signature.py \
        core/tests/fixtures/simple/sigs/rsa-right.sig core/tests/fixtures/simple/keys/rsa.asc \
        127.0.0.1:5000/test/signed:v1 \
        sha256:c512d672400a70f985a0b560012538262a2d5803ecde325dcf0162d3616cddeb

Exits 0 when the signature is good for that image and digest, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import portieris


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("signature", type=Path)
    parser.add_argument("keyring", type=Path, help="trusted public keys (armoured or binary)")
    parser.add_argument("image", help="the image the signature must be for")
    parser.add_argument("digest", help="the image's manifest digest, sha256:<hex>")
    parser.add_argument("--identity", default="matchRepoDigestOrExact", help="signedIdentity type")
    args = parser.parse_args()
    try:
        payload = portieris.simple.verify(
            args.signature.read_bytes(),
            args.keyring.read_bytes(),
            reference=args.image,
            digest=args.digest,
            identity={"type": args.identity},
        )
    except portieris.Error as e:
        print(f"{args.image}: signature refused: {e}", file=sys.stderr)
        return 1
    print(f"{args.image}: signed by {payload.signer} for {payload.reference} @ {payload.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

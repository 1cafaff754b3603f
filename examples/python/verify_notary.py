#!/usr/bin/env python3
"""Verify a Notary-signed image: fetch its trust data yourself, check it with portieris.

    python3 examples/python/verify_notary.py 127.0.0.1:5000/test/signed:v1 \
        --notary https://127.0.0.1:4443 --ca /tmp/portieris-rig/tls/ca.crt [--signer alice=key.pem]

Prints the signed digest and the roles that signed it; exits 1 when verification fails.
(`portieris.verify_image` does the fetching for you; this shows the sans-IO `notary.verify`.)
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.request

import portieris

TOP = ("root", "timestamp", "snapshot", "targets")


def fetch(url: str, context: ssl.SSLContext):
    """The role's bytes, or None on 404 (the server has no such role)."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:
            return answer.read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("image")
    parser.add_argument("--notary", required=True, help="notary server URL")
    parser.add_argument("--ca", help="PEM CA bundle for the notary server")
    parser.add_argument("--signer", action="append", default=[], help="NAME=PEM_FILE, repeatable")
    args = parser.parse_args()

    ref = portieris.parse_reference(args.image)
    gun = ref.name.removeprefix("docker.io/") if ref.registry == "docker.io" else ref.name
    context = ssl.create_default_context(cafile=args.ca)
    base = f"{args.notary.rstrip('/')}/v2/{gun}/_trust/tuf"

    metadata = {role: fetch(f"{base}/{role}.json", context) for role in TOP}
    # Every delegation the snapshot lists, plus the role of each pinned signer.
    snapshot = json.loads(metadata["snapshot"] or b"{}")
    roles = set(snapshot.get("signed", {}).get("meta", {})) - set(TOP)
    signers = []
    for spec in args.signer:
        name, _, path = spec.partition("=")
        with open(path, encoding="utf-8") as key:
            signers.append((name, key.read()))
        roles.add(f"targets/{name}")
    for role in sorted(roles):
        metadata[role] = fetch(f"{base}/{role}.json", context)

    try:
        target = portieris.notary.verify(gun, ref.digest or ref.tag, metadata, signers=signers)
    except portieris.VerificationError as e:
        print(f"{args.image}: NOT trusted: {e}", file=sys.stderr)
        return 1
    print(
        f"{args.image}: trusted {target.digest} ({target.length} bytes), signed by {', '.join(target.roles)}"
    )
    print(f"pinned: {ref.pinned(target.digest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

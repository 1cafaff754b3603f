"""Reads a plain-HTTP OCI registry (the loopback Sigstore's) for the fixture scripts
(sigstore-vectors.sh, attestation-vectors.sh): PYTHONPATH=scripts/lib, then
`get = reader(registry, repo)`; `get(path, accept)` is the bytes of /v2/<repo>/<path>, or None
for a 404."""

import urllib.error
import urllib.request


def reader(registry, repo):
    def get(path, accept=None):
        req = urllib.request.Request(f"http://{registry}/v2/{repo}/{path}")
        if accept:
            req.add_header("Accept", ", ".join(accept))
        try:
            with urllib.request.urlopen(req) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    return get

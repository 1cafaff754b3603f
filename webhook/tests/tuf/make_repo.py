"""Writes a standard TUF repository (consistent snapshots, as Sigstore's) holding one target,
with python-tuf's Metadata API and fresh Ed25519 keys, one per top-level role.

    make_repo.py OUT TARGET_NAME TARGET_FILE

OUT/repo/ is to be served over HTTP: metadata at its top (1.root.json, 1.targets.json,
1.snapshot.json, timestamp.json), the target under targets/ as <sha256>.<name>. OUT/root.json
is the initial root a client starts from. Used by webhook/tests/sigstore_tuf.rs.
"""

import os
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer


def main(out, name, path):
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=7)
    roles = {
        "root": Metadata(Root(expires=expires, consistent_snapshot=True)),
        "targets": Metadata(Targets(expires=expires)),
        "snapshot": Metadata(Snapshot(expires=expires)),
        "timestamp": Metadata(Timestamp(expires=expires)),
    }
    target = TargetFile.from_file(name, path, ["sha256"])
    roles["targets"].signed.targets[name] = target
    signers = {}
    for role in roles:
        signer = CryptoSigner.generate_ed25519()
        roles["root"].signed.add_key(signer.public_key, role)
        signers[role] = signer
    for role, metadata in roles.items():
        metadata.sign(signers[role])

    repo = os.path.join(out, "repo")
    os.makedirs(os.path.join(repo, "targets"), exist_ok=True)
    pretty = JSONSerializer(compact=False)
    for role, metadata in roles.items():
        file = "timestamp.json" if role == "timestamp" else f"1.{role}.json"
        metadata.to_file(os.path.join(repo, file), pretty)
    roles["root"].to_file(os.path.join(out, "root.json"), pretty)
    digest = target.hashes["sha256"]
    with open(path, "rb") as src, open(os.path.join(repo, "targets", f"{digest}.{name}"), "wb") as dst:
        dst.write(src.read())


if __name__ == "__main__":
    main(*sys.argv[1:])

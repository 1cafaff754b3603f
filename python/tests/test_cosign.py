"""portieris.cosign over the vectors the real cosign made (core/tests/fixtures/cosign/regen.sh):
P-256, RSA and Ed25519 keys, and the payloads and signatures `cosign sign` pushed."""

import hashlib
import json

import pytest

import portieris
from portieris import cosign

from conftest import REPO, in_threads

COSIGN = REPO / "core" / "tests" / "fixtures" / "cosign"
KEYS = ["ecdsa", "rsa", "ed25519"]


def listed(which):
    """A line of digests.txt: ``<which> <value>``."""
    return dict(line.split() for line in (COSIGN / "digests.txt").read_text().splitlines() if line)[which]


REPOSITORY = listed("repository")
IMAGE = f"{REPOSITORY}:image"
DIGEST = listed("image")
OTHER = listed("other")


def key(name):
    return (COSIGN / "keys" / f"{name}.pub").read_text()


def payload(name):
    return (COSIGN / "payloads" / f"{name}.json").read_bytes()


def sig(key_name, payload_name):
    return (COSIGN / "sigs" / f"{key_name}-{payload_name}.sig").read_text()


def layer(key_name, payload_name="image"):
    return (payload(payload_name), sig(key_name, payload_name))


@pytest.mark.parametrize("name", KEYS)
def test_each_key_type_admits_its_signature_and_returns_the_digest(name):
    verified = cosign.verify([layer(name)], [key(name)], IMAGE, DIGEST)
    assert isinstance(verified, cosign.Verified)
    assert verified.digest == DIGEST
    assert verified.reference == f"{REPOSITORY}@{DIGEST}"
    assert verified.keys == ["keys[0]"]
    assert repr(verified).startswith(f"Verified(digest='{DIGEST}'")


def test_the_digest_defaults_to_the_one_the_reference_pins():
    verified = cosign.verify([layer("ecdsa")], key("ecdsa"), f"{REPOSITORY}@{DIGEST}")
    assert verified.digest == DIGEST
    tagged_and_pinned = cosign.verify([layer("ecdsa")], key("ecdsa"), f"{IMAGE}@{DIGEST}", DIGEST)
    assert tagged_and_pinned.digest == DIGEST


def test_a_signature_by_another_key_is_refused_naming_the_key():
    with pytest.raises(portieris.VerificationError) as refused:
        cosign.verify([layer("ecdsa")], [("team/rsa", key("rsa"))], IMAGE, DIGEST)
    message = str(refused.value)
    assert 'the key in Secret "team/rsa"' in message
    assert "signature 1:" in message
    with pytest.raises(portieris.VerificationError, match=r"keys\[0\]"):
        cosign.verify([layer("rsa")], [key("ed25519")], IMAGE, DIGEST)


def test_every_key_must_have_signed():
    both = [layer("ecdsa"), layer("rsa")]
    verified = cosign.verify(both, [("a", key("ecdsa")), ("b", key("rsa"))], IMAGE, DIGEST)
    assert verified.keys == ["a", "b"]
    with pytest.raises(portieris.VerificationError) as refused:
        cosign.verify(both, [("a", key("ecdsa")), ("c", key("ed25519"))], IMAGE, DIGEST)
    message = str(refused.value)
    assert '"c"' in message and '"a"' not in message
    assert "signature 1:" in message and "signature 2:" in message


def test_a_wrong_digest_is_refused():
    with pytest.raises(portieris.VerificationError, match=f"signed digest {DIGEST}, expected {OTHER}"):
        cosign.verify([layer("ecdsa")], [key("ecdsa")], IMAGE, OTHER)
    # The other image's signature, presented for this one.
    with pytest.raises(portieris.VerificationError, match=f"signed digest {OTHER}, expected {DIGEST}"):
        cosign.verify([layer("ecdsa", "other")], [key("ecdsa")], IMAGE, DIGEST)


def test_another_repository_is_refused():
    with pytest.raises(portieris.VerificationError, match=f"signed for repository {REPOSITORY}, not"):
        cosign.verify([layer("rsa")], [key("rsa")], f"{REPOSITORY}/elsewhere:v1", DIGEST)


def test_a_changed_payload_is_refused():
    changed = bytearray(payload("image"))
    changed[-3] ^= 1
    for name in KEYS:
        with pytest.raises(portieris.VerificationError, match="signature 1:"):
            cosign.verify([(bytes(changed), sig(name, "image"))], [key(name)], IMAGE, DIGEST)


def test_a_malformed_key_is_a_policy_error():
    with pytest.raises(portieris.PolicyError, match=r'cosign key Secret "keys\[0\]"'):
        cosign.verify([layer("ecdsa")], ["not a key"], IMAGE, DIGEST)
    truncated = key("ecdsa").replace(key("ecdsa").splitlines()[1], "AAAA")
    with pytest.raises(portieris.PolicyError, match='"broken"'):
        cosign.verify([layer("ecdsa")], [("broken", truncated)], IMAGE, DIGEST)


def test_no_key_is_a_policy_error():
    with pytest.raises(portieris.PolicyError, match="no public key"):
        cosign.verify([layer("ecdsa")], [], IMAGE, DIGEST)


def test_empty_signatures_are_refused():
    with pytest.raises(portieris.VerificationError, match="no cosign signatures found"):
        cosign.verify([], [key("ecdsa")], IMAGE, DIGEST)


def test_a_layer_without_its_annotation_is_refused():
    with pytest.raises(portieris.VerificationError, match=f"no {cosign.SIGNATURE_ANNOTATION} annotation"):
        cosign.verify([(payload("image"), None)], [key("ecdsa")], IMAGE, DIGEST)


def test_more_signatures_than_the_webhook_reads_are_refused():
    many = [layer("ecdsa")] * (cosign.MAX_SIGNATURES + 1)
    with pytest.raises(portieris.VerificationError, match="more than the 16 accepted"):
        cosign.verify(many, [key("ecdsa")], IMAGE, DIGEST)
    assert cosign.verify(many[:-1], [key("ecdsa")], IMAGE, DIGEST).digest == DIGEST


def test_reference_and_digest_must_parse_and_agree():
    with pytest.raises(portieris.ReferenceError):
        cosign.verify([layer("ecdsa")], [key("ecdsa")], "Not A Reference", DIGEST)
    with pytest.raises(portieris.ReferenceError):
        cosign.verify([layer("ecdsa")], [key("ecdsa")], IMAGE, "sha256:nope")
    with pytest.raises(portieris.ReferenceError, match="pins no digest"):
        cosign.verify([layer("ecdsa")], [key("ecdsa")], IMAGE)
    with pytest.raises(portieris.ReferenceError, match="pins another digest"):
        cosign.verify([layer("ecdsa")], [key("ecdsa")], f"{REPOSITORY}@{DIGEST}", OTHER)


def test_bytes_and_str_are_both_accepted():
    verified = cosign.verify(
        [(payload("image").decode(), sig("ed25519", "image").encode())],
        [("k", key("ed25519").encode())],
        IMAGE,
        DIGEST,
    )
    assert verified.digest == DIGEST
    with pytest.raises(TypeError, match="pair"):
        cosign.verify([payload("image")], [key("ecdsa")], IMAGE, DIGEST)
    with pytest.raises(TypeError, match="signature must be"):
        cosign.verify([(payload("image"), 42)], [key("ecdsa")], IMAGE, DIGEST)


def test_concurrent_verifications_from_many_threads_agree():
    def work():
        return [cosign.verify([layer(name)], [key(name)], IMAGE, DIGEST).digest for name in KEYS]

    results, errors = in_threads(work)
    assert errors == []
    assert results == [DIGEST] * 24


# The signature artifact: its manifest and blobs, as a registry serves them.


def blob_digest(blob):
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def artifact(layers):
    """The manifest `cosign sign` pushes for these (payload, signature) layers, and its blobs."""
    descriptors = []
    for blob, signature in layers:
        descriptor = {
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "size": len(blob),
            "digest": blob_digest(blob),
        }
        if signature is not None:
            descriptor["annotations"] = {cosign.SIGNATURE_ANNOTATION: signature}
        descriptors.append(descriptor)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 2,
            "digest": blob_digest(b"{}"),
        },
        "layers": descriptors,
    }
    return json.dumps(manifest).encode(), {blob_digest(blob): blob for blob, _ in layers}


def test_an_artifact_reads_as_its_layers_and_verifies():
    layers = [layer("ecdsa"), layer("rsa"), (payload("other"), None)]
    manifest, blobs = artifact(layers)
    read = cosign.read_artifact(manifest, blobs)
    assert read == [(blob, signature) for blob, signature in layers]
    verified = cosign.verify(read, [key("ecdsa"), key("rsa")], IMAGE, DIGEST)
    assert verified.digest == DIGEST


def test_an_artifact_needs_every_blob_with_its_hash():
    manifest, blobs = artifact([layer("ecdsa")])
    with pytest.raises(portieris.VerificationError, match="signature 1: blobs has no sha256:"):
        cosign.read_artifact(manifest, {})
    (digest,) = blobs
    with pytest.raises(portieris.VerificationError, match=f"the blob given for {digest} is sha256:"):
        cosign.read_artifact(manifest, {digest: payload("other")})


def test_a_manifest_that_is_not_one_is_refused():
    with pytest.raises(portieris.VerificationError, match="not a manifest"):
        cosign.read_artifact(b"not JSON", {})
    manifest, blobs = artifact([layer("ecdsa")] * (cosign.MAX_SIGNATURES + 1))
    with pytest.raises(portieris.VerificationError, match="17 layers"):
        cosign.read_artifact(manifest, blobs)

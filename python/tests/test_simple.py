"""portieris.simple.verify over the committed simple-signing vectors (core/tests/fixtures/simple)."""

import pytest

import portieris
from portieris import simple

from conftest import REPO

SIMPLE = REPO / "core" / "tests" / "fixtures" / "simple"
IMAGE = "127.0.0.1:5000/test/signed:v1"
NOW = 1_900_000_000  # 2030: inside the validity of the vector keys (the "expired" key aside)


def digests():
    return dict(line.split() for line in (SIMPLE / "digests.txt").read_text().splitlines() if line)


def fingerprint(name):
    lines = (SIMPLE / "fingerprints.txt").read_text().splitlines()
    return dict(line.split() for line in lines if line)[name]


def key(name):
    return (SIMPLE / "keys" / f"{name}.asc").read_text()


def sig(name):
    return (SIMPLE / "sigs" / name).read_bytes()


@pytest.mark.parametrize("signature", ["rsa-right.sig", "rsa-right.asc", "rsa-right.raw"])
def test_signature_by_the_trusted_key_verifies_in_every_encoding(signature):
    payload = simple.verify(
        sig(signature),
        key("rsa"),
        reference=IMAGE,
        digest=digests()["image"],
        identity={"type": "matchRepoDigestOrExact"},
        now=NOW,
    )
    assert payload.digest == digests()["image"]
    assert payload.reference == IMAGE
    assert payload.signer == fingerprint("rsa")
    assert b"docker-manifest-digest" in payload.payload


def test_signature_by_another_key_is_refused():
    with pytest.raises(portieris.VerificationError, match="no valid signature"):
        simple.verify(sig("other-right.sig"), key("rsa"), reference=IMAGE, digest=digests()["image"], now=NOW)


def test_signature_for_another_digest_is_refused():
    with pytest.raises(portieris.VerificationError, match="expected sha256"):
        simple.verify(
            sig("rsa-other-digest.sig"), key("rsa"), reference=IMAGE, digest=digests()["image"], now=NOW
        )


def test_signature_for_another_repository_is_refused():
    with pytest.raises(portieris.VerificationError, match=fingerprint("rsa")):
        simple.verify(
            sig("rsa-other-repo.sig"), key("rsa"), reference=IMAGE, digest=digests()["image"], now=NOW
        )


def test_match_repository_accepts_another_tag_that_match_exact_refuses():
    loose = simple.verify(
        sig("rsa-other-tag.sig"), key("rsa"), reference=IMAGE, identity={"type": "matchRepository"}, now=NOW
    )
    assert loose.reference == "127.0.0.1:5000/test/signed:v2"
    with pytest.raises(portieris.VerificationError):
        simple.verify(
            sig("rsa-other-tag.sig"), key("rsa"), reference=IMAGE, identity={"type": "matchExact"}, now=NOW
        )


def test_remap_identity_accepts_a_mirror_signature():
    payload = simple.verify(
        sig("rsa-mirror.sig"),
        key("rsa"),
        reference=IMAGE,
        identity={
            "type": "remapIdentity",
            "prefix": "127.0.0.1:5000/test",
            "signedPrefix": "registry.example.com/mirror",
        },
        now=NOW,
    )
    assert payload.reference.startswith("registry.example.com/mirror/")


def test_corrupt_signature_is_refused():
    with pytest.raises(portieris.VerificationError):
        simple.verify(sig("corrupt.raw"), key("rsa"), now=NOW)


def test_revoked_signing_key_is_refused():
    with pytest.raises(portieris.VerificationError):
        simple.verify(sig("revoked-right.sig"), key("revoked"), now=NOW)


def test_invalid_keyring_is_a_verification_error():
    with pytest.raises(portieris.VerificationError, match="invalid keyring"):
        simple.verify(sig("rsa-right.sig"), "not a key", now=NOW)


def test_unknown_identity_type_is_a_policy_error():
    with pytest.raises(portieris.PolicyError, match="signedIdentity"):
        simple.verify(sig("rsa-right.sig"), key("rsa"), reference=IMAGE, identity={"type": "nope"}, now=NOW)


def test_invalid_digest_argument_is_a_reference_error():
    with pytest.raises(portieris.ReferenceError):
        simple.verify(sig("rsa-right.sig"), key("rsa"), reference=IMAGE, digest="sha256:nope", now=NOW)


def test_identity_without_a_reference_is_a_value_error():
    with pytest.raises(ValueError, match="reference"):
        simple.verify(sig("rsa-right.sig"), key("rsa"), identity={"type": "matchExact"}, now=NOW)

"""portieris.simple.verify over the committed simple-signing vectors (core/tests/fixtures/simple)."""

import json
from collections.abc import Mapping

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


# The result is also the signed JSON, as a read-only Mapping.


def verified():
    return simple.verify(
        sig("rsa-right.sig"), key("rsa"), reference=IMAGE, digest=digests()["image"], now=NOW
    )


def test_the_payload_reads_as_the_signed_json():
    payload = verified()
    assert payload["critical"]["image"]["docker-manifest-digest"] == digests()["image"]
    assert payload["critical"]["type"] == "atomic container signature"
    assert payload["critical"]["identity"]["docker-reference"] == IMAGE
    assert dict(payload) == json.loads(payload.payload)


def test_the_payload_is_a_mapping():
    payload = verified()
    signed = json.loads(payload.payload)
    assert isinstance(payload, Mapping)
    assert len(payload) == len(signed)
    assert list(payload) == list(signed)
    assert "critical" in payload
    assert "nope" not in payload and 1 not in payload
    assert list(payload.keys()) == list(signed.keys())
    assert list(payload.values()) == list(signed.values())
    assert list(payload.items()) == list(signed.items())
    assert payload.keys() == signed.keys()  # a set-like view, as dict's
    assert payload.get("critical") == signed["critical"]
    assert payload.get("nope") is None
    assert payload.get("nope", 42) == 42


def test_a_missing_key_is_a_key_error_not_an_index():
    payload = verified()
    with pytest.raises(KeyError, match="nope"):
        payload["nope"]
    with pytest.raises(KeyError):
        payload[0]  # a mapping, not a sequence


def test_the_payload_keeps_its_attributes_next_to_its_keys():
    payload = verified()
    assert payload.digest == payload["critical"]["image"]["docker-manifest-digest"]
    assert payload.signer == fingerprint("rsa")
    assert payload.reference == IMAGE
    assert repr(payload).startswith("Payload(reference=")


def test_changing_a_value_read_does_not_change_the_payload():
    payload = verified()
    critical = payload["critical"]
    critical["image"]["docker-manifest-digest"] = "sha256:" + "0" * 64
    del critical["type"]
    assert payload["critical"]["image"]["docker-manifest-digest"] == digests()["image"]
    assert payload["critical"]["type"] == "atomic container signature"
    assert dict(payload) == json.loads(payload.payload)
    with pytest.raises(TypeError):
        payload["critical"] = {}  # read-only

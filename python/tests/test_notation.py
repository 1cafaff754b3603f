"""portieris.notation.verify over the Notary Project signatures notation-go v1.3.2 made
(core/tests/fixtures/notation, scripts/notation-vectors.sh): JWS and COSE, trust stores, trusted
identities, timestamps, CRLs and verification levels, under the Notary Project trust policy
document format."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

import portieris
from portieris import notation
from conftest import REPO, in_threads

FIXTURES = REPO / "core" / "tests" / "fixtures" / "notation"
CASES = json.loads((FIXTURES / "cases.json").read_text())
MANIFEST = (FIXTURES / "manifest.json").read_bytes()
DIGEST = CASES["descriptor"]["digest"]
NOW = dt.datetime.fromisoformat(CASES["generated_at"].replace("Z", "+00:00"))


def pki(name: str) -> bytes:
    return (FIXTURES / "pki" / name).read_bytes()


def envelope(name: str) -> bytes:
    return (FIXTURES / "envelopes" / name).read_bytes()


def policy(level="strict", stores=("ca:acme",), identities=("*",), override=None):
    verification = {"level": level}
    if override:
        verification["override"] = override
    return {"version": "1.0", "trustPolicies": [{
        "name": "app", "registryScopes": ["registry.example/app"],
        "signatureVerification": verification,
        "trustStores": list(stores), "trustedIdentities": list(identities)}]}


STORES = {
    "ca:acme": {"root.pem": pki("root.pem")},
    "ca:other": {"root.pem": pki("other-root.pem")},
    "tsa:loopback": {"tsa-root.pem": pki("tsa-root.pem")},
}


def verify(signatures, trust_policy=None, stores=None, image=f"registry.example/app@{DIGEST}",
           now=NOW):
    return notation.verify(image, MANIFEST, signatures,
                           trust_policy=trust_policy or policy(),
                           trust_stores=stores or STORES, now=now)


def test_a_jws_and_a_cose_signature_verify_and_name_their_signer():
    for kind, name in [(notation.JWS, "jws-ec.jws"), (notation.COSE, "cose-rsa.cose")]:
        verified = verify([(kind, envelope(name))])
        assert verified.statement == "app"
        assert "CN=leaf-" in verified.signer
        assert verified.logged == []


def test_a_trusted_identity_admits_and_another_is_refused_unless_audited():
    signature = [(notation.JWS, envelope("jws-ec.jws"))]
    ec = "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, CN=leaf-ec"
    rsa = "x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=leaf-rsa"
    assert verify(signature, policy(identities=[ec])).signer
    with pytest.raises(portieris.VerificationError, match="is not a trusted identity"):
        verify(signature, policy(identities=[rsa]))
    audited = verify(signature, policy(level="audit", identities=[rsa]))
    assert len(audited.logged) == 1 and "trusted identity" in audited.logged[0]


def test_an_untrusted_root_a_tampered_envelope_and_another_digest_are_refused():
    with pytest.raises(portieris.VerificationError, match="does not lead to a certificate"):
        verify([(notation.JWS, envelope("jws-ec.jws"))], policy(stores=["ca:other"]))
    with pytest.raises(portieris.VerificationError, match="integrity: the signature does not"):
        verify([(notation.JWS, envelope("jws-tampered.jws"))])
    other = MANIFEST + b"\n"
    image = f"registry.example/app@sha256:{hashlib.sha256(other).hexdigest()}"
    with pytest.raises(portieris.VerificationError, match="not this image's manifest"):
        notation.verify(image, other, [(notation.JWS, envelope("jws-ec.jws"))],
                        trust_policy=policy(), trust_stores=STORES, now=NOW)


def test_a_timestamp_is_required_under_a_tsa_store_and_verified():
    stores = ("ca:acme", "tsa:loopback")
    assert verify([(notation.JWS, envelope("jws-rsa-tsa.jws"))], policy(stores=stores))
    with pytest.raises(portieris.VerificationError, match="no timestamp countersignature"):
        verify([(notation.JWS, envelope("jws-rsa.jws"))], policy(stores=stores))


def test_a_revoked_certificate_is_refused_with_its_crl_and_only_logged_when_permissive():
    signature = [(notation.JWS, envelope("jws-revoked.jws"))]
    stores = {"ca:acme": {"root.pem": pki("root.pem"), "intermediate.crl": pki("crl-revoked.der")}}
    with pytest.raises(portieris.VerificationError, match="is revoked"):
        verify(signature, stores=stores)
    assert verify(signature, policy(level="permissive"), stores=stores).logged
    assert verify(signature, policy(override={"revocation": "skip"}), stores=stores)


def test_the_first_signature_that_passes_admits_and_each_failure_is_said():
    tampered = (notation.JWS, envelope("jws-tampered.jws"))
    good = (notation.COSE, envelope("cose-ec.cose"))
    assert verify([tampered, good]).signer
    with pytest.raises(portieris.VerificationError, match="signature 1: .*signature 2: "):
        verify([tampered, tampered])


def test_bad_documents_stores_and_references_raise_the_matching_errors():
    signature = [(notation.JWS, envelope("jws-ec.jws"))]
    with pytest.raises(portieris.PolicyError, match="version"):
        verify(signature, {"version": "2.0", "trustPolicies": []})
    with pytest.raises(portieris.PolicyError, match="does not give"):
        verify(signature, policy(stores=["ca:missing"]))
    with pytest.raises(portieris.PolicyError, match="not type:name"):
        verify(signature, stores={"acme": {"root.pem": pki("root.pem")}})
    with pytest.raises(portieris.PolicyError, match="holds no certificate"):
        verify(signature, stores={"ca:acme": {}})
    with pytest.raises(portieris.ReferenceError, match="names no digest"):
        verify(signature, image="registry.example/app:v1")
    with pytest.raises(portieris.VerificationError, match="no statement"):
        verify(signature, image=f"registry.example/elsewhere@{DIGEST}")


def test_verification_runs_from_many_threads_at_once():
    signature = [(notation.COSE, envelope("cose-rsa.cose"))]
    results, errors = in_threads(lambda: [verify(signature).statement], 4)
    assert errors == []
    assert results == ["app"] * 4

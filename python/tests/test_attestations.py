"""portieris.attestations.verify over what cosign v3.1.3 attested against the loopback Sigstore
(core/tests/fixtures/attestations): SLSA provenance, syft's SBOMs and a vulnerability report as
bundles, provenance in the legacy .att tag; with CEL conditions."""

from __future__ import annotations

import json

import pytest

import portieris
from portieris import attestations
from conftest import REPO, in_threads

FIXTURES = REPO / "core" / "tests" / "fixtures" / "attestations"
ROOT = (FIXTURES / "trusted_root.json").read_bytes()
KEY = (FIXTURES / "cosign.pub").read_text()
CI = "https://github.com/portieris-test/ci/.github/workflows/build.yml@refs/heads/main"
CI_IDENTITY = [{"issuer": "http://127.0.0.1:5561/github", "subject": CI}]
BUNDLES = [
    (FIXTURES / "a" / case / "bundle.sigstore.json").read_bytes()
    for case in ["provenance-v1-keyless", "provenance-v1-key", "provenance-v02-keyless",
                 "sbom-spdx", "sbom-cyclonedx", "vuln"]
]
ENVELOPES = [
    (FIXTURES / "b" / case / "envelope.dsse.json").read_bytes()
    for case in ["provenance-v1-key-att", "provenance-v1-keyless-att"]
]


def digest(image: str) -> str:
    return (FIXTURES / image / "digest").read_text().strip()


def keyless(predicate_type: str, conditions=()):
    return attestations.verify(digest("a"), predicate_type, bundles=BUNDLES,
                               identities=CI_IDENTITY, trusted_root=ROOT, conditions=conditions)


def test_the_ci_provenance_is_returned_with_its_statement_and_identity():
    found = keyless("slsaprovenance1", [f"predicate.runDetails.builder.id == '{CI}'"])
    assert len(found) == 1
    statement = found[0]
    assert statement.predicate_type == "https://slsa.dev/provenance/v1"
    assert statement.identity.subject == CI
    assert statement.signed_at
    assert attestations.predicate(statement)["runDetails"]["builder"]["id"] == CI
    assert json.loads(statement.statement)["subject"][0]["digest"]["sha256"] == digest("a")[7:]


def test_a_false_condition_is_a_verification_error_naming_it():
    with pytest.raises(portieris.VerificationError, match="condition 1 is false: predicate.scanner"):
        keyless("vuln", ["predicate.scanner.result.Results.all(r, "
                         "r.Vulnerabilities.all(v, v.Severity != 'HIGH'))"])


def test_an_sbom_syft_made_lists_the_image_packages():
    (sbom,) = keyless("spdxjson", ["predicate.packages.exists(p, p.name == 'musl')"])
    names = {p["name"] for p in attestations.predicate(sbom)["packages"]}
    assert {"musl", "busybox", "libcrypto3", "libssl3"} <= names


def test_a_key_reads_bundles_and_att_layers():
    by_key = attestations.verify(digest("a"), "https://slsa.dev/provenance/v1", bundles=BUNDLES, key=KEY)
    assert len(by_key) == 1 and by_key[0].identity is None
    att = attestations.verify(digest("b"), "slsaprovenance1", envelopes=ENVELOPES, key=KEY)
    assert len(att) == 1


def test_nothing_of_the_type_or_another_digest_is_refused():
    with pytest.raises(portieris.VerificationError, match="no attestation of type"):
        keyless("openvex")
    with pytest.raises(portieris.VerificationError, match="no subject of the statement"):
        attestations.verify(digest("b"), "slsaprovenance1", bundles=BUNDLES,
                            identities=CI_IDENTITY, trusted_root=ROOT)


def test_policy_errors_name_the_problem():
    with pytest.raises(portieris.PolicyError, match=r"condition 1: line 1, column \d+"):
        keyless("slsaprovenance1", ["predicate.x =="])
    with pytest.raises(portieris.PolicyError, match="neither a URI nor a short name"):
        keyless("slsa")
    with pytest.raises(portieris.PolicyError, match="identities .keyless. or key"):
        attestations.verify(digest("a"), "slsaprovenance1", bundles=BUNDLES)
    with pytest.raises(portieris.PolicyError, match="not one string"):
        keyless("slsaprovenance1", "predicate.x == 1")
    with pytest.raises(portieris.ReferenceError):
        attestations.verify("sha256:nothex", "slsaprovenance1", key=KEY)


def test_verification_runs_in_threads():
    results, errors = in_threads(lambda: [len(keyless("slsaprovenance1"))], 4)
    assert (results, errors) == ([1, 1, 1, 1], [])

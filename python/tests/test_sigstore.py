"""portieris.sigstore.verify_bundle over Sigstore's client conformance cases
(core/tests/vectors/sigstore/conformance): every case decided as the suite says, then the
identity rules, the arguments, and threads."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

import portieris
from portieris import sigstore
from conftest import REPO, in_threads

CASES = REPO / "core" / "tests" / "vectors" / "sigstore" / "conformance"
PUBLIC_GOOD = (REPO / "core" / "src" / "sigstore" / "public-good.trusted_root.json").read_bytes()
# The suite's defaults (its test/assets/bundle-verify/README.md).
SUBJECT = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = {"issuer": ISSUER, "subject": SUBJECT}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


A_TXT = sha256((CASES / "a.txt").read_bytes())


def bundle(case: str) -> bytes:
    return (CASES / case / "bundle.sigstore.json").read_bytes()


def arguments(case: str) -> dict:
    """verify_bundle's arguments for a case, as the suite's CLI protocol gives them."""
    d = CASES / case
    artifact = d / "artifact" if (d / "artifact").exists() else CASES / "a.txt"
    args = {"bundle": bundle(case), "digest": sha256(artifact.read_bytes())}
    if (d / "key.pub").exists():
        args["key"] = (d / "key.pub").read_text()
    else:
        subject = (d / "identity").read_text() if (d / "identity").exists() else SUBJECT
        issuer = (d / "issuer").read_text() if (d / "issuer").exists() else ISSUER
        args["identities"] = [{"issuer": issuer, "subject": subject}]
    # The suite always hands the client a root: the case's, or the public-good one.
    root = d / "trusted_root.json"
    args["trusted_root"] = root.read_bytes() if root.exists() else PUBLIC_GOOD
    return args


ALL = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def test_the_suite_is_there():
    assert len(ALL) >= 70


@pytest.mark.parametrize("case", [c for c in ALL if not c.endswith("_fail")])
def test_conformance_case_verifies(case):
    args = arguments(case)
    verified = sigstore.verify_bundle(args.pop("bundle"), args.pop("digest"), **args)
    assert verified.signed_at and all(type(t) is int for t in verified.signed_at)
    assert (verified.identity is None) == ("key" in args)


# A malformed trusted root, or a "wrong key" that is not a key at all (its base64 is broken),
# is the caller's to fix, not the bundle's fault.
POLICY_ERRORS = {"trust-root-tlog-missing-validity-start_fail", "managed-key-wrong-key_fail"}


@pytest.mark.parametrize("case", [c for c in ALL if c.endswith("_fail")])
def test_conformance_fail_case_is_refused(case):
    args = arguments(case)
    expected = portieris.PolicyError if case in POLICY_ERRORS else portieris.VerificationError
    with pytest.raises(expected) as raised:
        sigstore.verify_bundle(args.pop("bundle"), args.pop("digest"), **args)
    assert str(raised.value)


def test_keyless_happy_path_names_the_signer():
    verified = sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[IDENTITY])
    assert isinstance(verified, sigstore.Verified)
    identity = verified.identity
    assert isinstance(identity, sigstore.Identity)
    assert (identity.subject, identity.issuer, identity.subject_kind) == (SUBJECT, ISSUER, "uri")
    extensions = identity.extensions
    assert isinstance(extensions, dict) and extensions
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in extensions.items())
    # A copy each time: read-only as far as the result is concerned.
    extensions.clear()
    assert identity.extensions
    with pytest.raises(AttributeError):
        verified.signed_at = []
    with pytest.raises(AttributeError):
        identity.subject = "someone else"
    assert len(verified.signed_at) == 1 and verified.signed_at[0] > 1_600_000_000
    assert "Verified(signed_at=" in repr(verified) and SUBJECT in repr(verified)


def test_an_extension_the_certificate_has_must_match():
    identity = sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[IDENTITY]).identity
    name, value = next(iter(identity.extensions.items()))
    ok = sigstore.verify_bundle(
        bundle("happy-path-v0.3"), A_TXT, identities=[{**IDENTITY, "extensions": {name: value}}]
    )
    assert ok.identity.extensions[name] == value
    with pytest.raises(portieris.VerificationError, match=name):
        sigstore.verify_bundle(
            bundle("happy-path-v0.3"),
            A_TXT,
            identities=[{**IDENTITY, "extensions": {name: value + "x"}}],
        )


def test_fail_case_says_why():
    with pytest.raises(portieris.VerificationError, match="signature"):
        sigstore.verify_bundle(bundle("signature-mismatch_fail"), A_TXT, identities=[IDENTITY])


def test_another_digest_is_refused():
    with pytest.raises(portieris.VerificationError):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), "sha256:" + "0" * 64, identities=[IDENTITY])


def test_managed_key_bundle_is_the_keys_alone_without_a_root():
    key = (CASES / "managed-key-happy-path" / "key.pub").read_text()
    verified = sigstore.verify_bundle(bundle("managed-key-happy-path"), A_TXT, key=key)
    assert verified.identity is None and verified.signed_at == []
    # With a root its log entry and timestamp are checked too, and prove when it was signed.
    rooted = sigstore.verify_bundle(
        bundle("managed-key-happy-path"), A_TXT, key=key.encode(), trusted_root=PUBLIC_GOOD
    )
    assert rooted.identity is None and len(rooted.signed_at) == 2
    # Another key (cosign's own test key) did not sign it.
    other = (REPO / "core" / "tests" / "fixtures" / "cosign" / "keys" / "ecdsa.pub").read_text()
    with pytest.raises(portieris.VerificationError):
        sigstore.verify_bundle(bundle("managed-key-happy-path"), A_TXT, key=other)


def test_a_key_where_a_certificate_signed_is_refused():
    key = (CASES / "managed-key-happy-path" / "key.pub").read_text()
    with pytest.raises(portieris.VerificationError, match="certificate"):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, key=key)
    with pytest.raises(portieris.VerificationError, match="key"):
        sigstore.verify_bundle(bundle("managed-key-happy-path"), A_TXT, identities=[IDENTITY])


def test_a_key_that_is_not_one_is_a_policy_error():
    with pytest.raises(portieris.PolicyError):
        sigstore.verify_bundle(bundle("managed-key-happy-path"), A_TXT, key="not a key")


def test_a_regex_matches_the_whole_value_only():
    unanchored = {"issuer": ISSUER, "subjectRegExp": "extremely-dangerous-public-oidc-beacon"}
    with pytest.raises(portieris.VerificationError, match="subject"):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[unanchored])
    whole = {
        "issuerRegExp": r"https://token\.actions\.githubusercontent\.com",
        "subjectRegExp": ".*extremely-dangerous-public-oidc-beacon.*",
    }
    ok = sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[whole])
    assert ok.identity.subject == SUBJECT
    # A pattern that would close the anchoring group does not parse on its own.
    escape = {"issuer": ISSUER, "subjectRegExp": "x)|(?:.*"}
    with pytest.raises(portieris.PolicyError, match="subject"):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[escape])


def test_any_of_the_identities_may_have_signed():
    other = {"issuer": ISSUER, "subject": "https://example.com/someone-else"}
    ok = sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[other, IDENTITY])
    assert ok.identity.subject == SUBJECT
    with pytest.raises(portieris.VerificationError, match="someone-else"):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[other])


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({}, "identities"),
        ({"identities": []}, "empty"),
        ({"identities": [IDENTITY], "key": "pem"}, "not both"),
        ({"identities": [{"subject": SUBJECT}]}, "issuer"),
        ({"identities": [{**IDENTITY, "issuerRegExp": ".*"}]}, "not both"),
        ({"identities": [{**IDENTITY, "subjet": "typo"}]}, "subjet"),
        ({"identities": [{**IDENTITY, "extensions": {"noSuchExtension": "x"}}]}, "noSuchExtension"),
        ({"identities": IDENTITY}, "list"),
        ({"identities": ["not a dict"]}, "identities"),
        ({"identities": [IDENTITY], "trusted_root": b"{}"}, "trusted_root"),
    ],
)
def test_what_cannot_be_applied_is_a_policy_error(kwargs, says):
    with pytest.raises(portieris.PolicyError, match=says):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, **kwargs)


def test_arguments_that_are_not_are_refused():
    with pytest.raises(portieris.ReferenceError):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), "sha256:short", identities=[IDENTITY])
    with pytest.raises(portieris.VerificationError, match="bundle"):
        sigstore.verify_bundle(b"{}", A_TXT, identities=[IDENTITY])
    with pytest.raises(TypeError):
        sigstore.verify_bundle(42, A_TXT, identities=[IDENTITY])
    with pytest.raises(TypeError):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, [IDENTITY])  # keyword-only


def test_now_bounds_the_log_time():
    signed = sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[IDENTITY]).signed_at[0]
    after = dt.datetime.fromtimestamp(signed + 60, tz=dt.timezone.utc)
    assert sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[IDENTITY], now=after)
    with pytest.raises(portieris.VerificationError):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[IDENTITY], now=signed - 3600)
    with pytest.raises(ValueError):
        sigstore.verify_bundle(bundle("happy-path-v0.3"), A_TXT, identities=[IDENTITY], now=dt.datetime(2030, 1, 1))


def test_concurrent_verifications_from_many_threads_agree():
    data = bundle("happy-path-v0.3")
    rekor2 = arguments("rekor2-happy-path")

    def work():
        out = []
        for _ in range(3):
            out.append(sigstore.verify_bundle(data, A_TXT, identities=[IDENTITY]).identity.subject)
            args = dict(rekor2)
            out.append(sigstore.verify_bundle(args.pop("bundle"), args.pop("digest"), **args).identity.subject)
            try:
                sigstore.verify_bundle(bundle("signature-mismatch_fail"), A_TXT, identities=[IDENTITY])
            except portieris.VerificationError:
                out.append("refused")
        return out

    results, errors = in_threads(work)
    assert errors == []
    assert results.count("refused") == 24
    assert len(results) == 72

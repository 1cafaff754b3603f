import datetime as dt

import pytest

import portieris
from portieris import notary

from conftest import in_threads


def test_signed_tag_verifies_to_the_registry_digest(case):
    signed = case("signed")
    target = notary.verify(signed.gun, "v1", signed.metadata(), now=signed.now)
    assert target.digest == signed.digest("v1")
    assert target.length == signed.expected["tags"]["v1"]["length"]
    assert target.roles == signed.expected["tags"]["v1"]["signed_by"]
    assert target.expires > signed.now


def test_every_tag_of_every_case_verifies(case):
    for name in ["signed", "onesigner", "signers", "toplevel", "rotated"]:
        c = case(name)
        for tag, info in c.expected["tags"].items():
            assert notary.verify(c.gun, tag, c.metadata(), now=c.now).digest == info["digest"]


def test_signed_digest_verifies_as_a_target(case):
    signed = case("signed")
    digest = signed.digest("v2")
    assert notary.verify(signed.gun, digest, signed.metadata(), now=signed.now).digest == digest


def test_aware_datetime_is_accepted_as_now(case):
    signed = case("signed")
    now = dt.datetime.fromtimestamp(signed.now, tz=dt.timezone.utc)
    assert notary.verify(signed.gun, "v1", signed.metadata(), now=now).digest == signed.digest("v1")


def test_naive_datetime_is_refused(case):
    signed = case("signed")
    with pytest.raises(ValueError, match="aware"):
        notary.verify(signed.gun, "v1", signed.metadata(), now=dt.datetime(2030, 1, 1))


def test_str_metadata_is_taken_as_utf8(case):
    signed = case("signed")
    text = {role: data.decode() for role, data in signed.metadata().items() if data is not None}
    assert notary.verify(signed.gun, "v1", text, now=signed.now).digest == signed.digest("v1")


def test_pinned_signer_that_signed_is_accepted(case):
    c = case("onesigner")
    target = notary.verify(c.gun, "v1", c.metadata(), now=c.now, signers=[c.signer("alice")])
    assert target.digest == c.digest("v1")
    assert "targets/alice" in target.roles


def test_pinned_signer_that_did_not_sign_the_tag_is_refused(case):
    c = case("onesigner")
    with pytest.raises(portieris.VerificationError, match="bob"):
        notary.verify(c.gun, "v1", c.metadata(), now=c.now, signers=[c.signer("bob")])


def test_undelegated_signer_is_refused(case):
    c = case("onesigner")
    with pytest.raises(portieris.VerificationError, match="mallory"):
        notary.verify(c.gun, "v1", c.metadata(), now=c.now, signers=[c.signer("mallory")])


def test_unsigned_tag_is_refused(case):
    signed = case("signed")
    with pytest.raises(portieris.VerificationError):
        notary.verify(signed.gun, "no-such-tag", signed.metadata(), now=signed.now)


def test_expired_timestamp_is_refused(case):
    signed = case("signed")
    later = notary.verify(signed.gun, "v1", signed.metadata(), now=signed.now).expires + 1
    with pytest.raises(portieris.VerificationError, match="timestamp"):
        notary.verify(signed.gun, "v1", signed.metadata(), now=later)


def test_tampered_targets_are_refused(case):
    signed = case("signed")
    metadata = signed.metadata()
    metadata["targets"] = metadata["targets"].replace(b'"version"', b'"version" ', 1) + b" "
    with pytest.raises(portieris.VerificationError, match="targets"):
        notary.verify(signed.gun, "v1", metadata, now=signed.now)


def test_root_for_another_gun_is_refused(case):
    signed = case("signed")
    with pytest.raises(portieris.VerificationError):
        notary.verify("127.0.0.1:25000/test/other", "v1", signed.metadata(), now=signed.now)


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets"])
def test_missing_top_level_role_is_named(case, role):
    signed = case("signed")
    metadata = signed.metadata()
    del metadata[role]
    with pytest.raises(portieris.VerificationError, match=f'"{role}"'):
        notary.verify(signed.gun, "v1", metadata, now=signed.now)


def test_missing_delegation_the_chain_needs_is_named(case):
    signed = case("signed")
    metadata = signed.metadata()
    del metadata["targets/releases"]
    with pytest.raises(portieris.VerificationError, match='"targets/releases"'):
        notary.verify(signed.gun, "v1", metadata, now=signed.now)


def test_bad_metadata_type_raises_type_error(case):
    signed = case("signed")
    metadata = dict(signed.metadata())
    metadata["root"] = 42
    with pytest.raises(TypeError, match="root"):
        notary.verify(signed.gun, "v1", metadata, now=signed.now)


def test_negative_now_is_refused(case):
    signed = case("signed")
    with pytest.raises(ValueError, match="1970"):
        notary.verify(signed.gun, "v1", signed.metadata(), now=-1)


def test_invalid_digest_target_is_a_verification_error(case):
    signed = case("signed")
    with pytest.raises(portieris.VerificationError, match="sha256:zz"):
        notary.verify(signed.gun, "sha256:zz", signed.metadata(), now=signed.now)


def test_concurrent_verifications_from_many_threads_agree(case):
    c = case("onesigner")
    metadata = c.metadata()

    def work():
        signers = [c.signer("alice")]
        verified = (notary.verify(c.gun, "v1", metadata, now=c.now, signers=signers) for _ in range(5))
        return [t.digest for t in verified]

    results, errors = in_threads(work)
    assert errors == []
    assert results == [c.digest("v1")] * 40

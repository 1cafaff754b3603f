use alloc::vec;
use alloc::vec::Vec;

use der::asn1::ObjectIdentifier;
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::*;
use crate::notation::test_pki::{
    CODE_SIGNING, TIME_STAMPING, TokenSpec, at, ca_extensions, ext, leaf_extensions, token,
    tsa_chain,
};

const SIGNATURE: &[u8] = b"the envelope's signature";

fn tsa() -> Vec<Vec<u8>> {
    tsa_chain(leaf_extensions(TIME_STAMPING, true), ca_extensions(None))
}

fn spec() -> TokenSpec {
    let chain = tsa();
    TokenSpec {
        message: SIGNATURE.to_vec(),
        gen_time: "20260601120000.5Z",
        accuracy_seconds: Some(2),
        signing: chain[0].clone(),
        others: vec![],
        seed: 5,
        ess: true,
        signing_time: None,
    }
}

fn roots() -> Vec<Vec<u8>> {
    vec![tsa()[1].clone()]
}

#[test]
fn a_token_over_the_signature_from_a_trusted_tsa_verifies_with_its_range() {
    let stamped = verify(&token(spec()), SIGNATURE, &roots()).expect("verifies");
    let generated = at("2026-06-01T12:00:00Z");
    assert_eq!(stamped.time, generated);
    // 12:00:00.5 ± 2 s: from 11:59:58.5 (rounded down) to 12:00:02.5 (rounded up).
    assert_eq!(stamped.earliest, UnixTime(generated.0 - 2));
    assert_eq!(stamped.latest, UnixTime(generated.0 + 3));
    assert_eq!(stamped.chain, tsa());
}

#[test]
fn the_token_may_carry_the_root_and_must_chain_to_the_store() {
    let mut with_root = spec();
    with_root.others = roots();
    assert!(verify(&token(with_root), SIGNATURE, &roots()).is_ok());
    let other_store = vec![crate::notation::test_pki::root()];
    assert_eq!(
        verify(&token(spec()), SIGNATURE, &other_store),
        Err(TimestampProblem::Untrusted)
    );
    assert_eq!(
        verify(&token(spec()), SIGNATURE, &[]),
        Err(TimestampProblem::Untrusted)
    );
}

#[test]
fn the_imprint_must_be_of_the_signature() {
    assert_eq!(
        verify(&token(spec()), b"another signature", &roots()),
        Err(TimestampProblem::ImprintMismatch)
    );
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let mut other = spec();
    other.seed = 9;
    assert_eq!(
        verify(&token(other), SIGNATURE, &roots()),
        Err(TimestampProblem::Signature)
    );
}

#[test]
fn signing_certificate_v2_is_required() {
    let mut without = spec();
    without.ess = false;
    assert_eq!(
        verify(&token(without), SIGNATURE, &roots()),
        Err(TimestampProblem::SigningCertificate)
    );
}

#[test]
fn the_tsa_chain_holds_to_the_timestamping_rules_at_gen_time() {
    let mut code_signing = spec();
    let chain = tsa_chain(leaf_extensions(CODE_SIGNING, false), ca_extensions(None));
    code_signing.signing = chain[0].clone();
    assert!(matches!(
        verify(&token(code_signing), SIGNATURE, &roots()),
        Err(TimestampProblem::Chain(ChainProblem::Leaf(_)))
    ));
    let mut late = spec();
    late.gen_time = "20270101000000Z";
    assert!(matches!(
        verify(&token(late), SIGNATURE, &roots()),
        Err(TimestampProblem::Chain(ChainProblem::NotValid { .. }))
    ));
    // The last instant of the year is valid; half a second later is not.
    let mut last = spec();
    last.gen_time = "20261231000000Z";
    assert!(verify(&token(last), SIGNATURE, &roots()).is_ok());
    let mut after = spec();
    after.gen_time = "20261231000000.5Z";
    assert!(verify(&token(after), SIGNATURE, &roots()).is_err());
}

#[test]
fn accuracy_widens_the_range_and_its_absence_does_not() {
    let mut exact = spec();
    exact.gen_time = "20260601120000Z";
    exact.accuracy_seconds = None;
    let stamped = verify(&token(exact), SIGNATURE, &roots()).expect("verifies");
    assert_eq!(
        (stamped.earliest, stamped.latest),
        (stamped.time, stamped.time)
    );
}

#[test]
fn garbage_and_oversized_tokens_are_refused_without_panic() {
    let token = token(spec());
    for cut in [0, 1, 10, token.len() / 2, token.len() - 1] {
        assert!(matches!(
            verify(&token[..cut], SIGNATURE, &roots()),
            Err(TimestampProblem::Malformed(_))
        ));
    }
    let big = vec![0u8; MAX_TIMESTAMP_BYTES + 1];
    assert_eq!(
        verify(&big, SIGNATURE, &roots()),
        Err(TimestampProblem::TooLarge(MAX_TIMESTAMP_BYTES + 1))
    );
    let many = vec![Vec::new(); MAX_TRUST_STORE_CERTIFICATES + 1];
    assert_eq!(
        verify(&token, SIGNATURE, &many),
        Err(TimestampProblem::TooManyRoots(
            MAX_TRUST_STORE_CERTIFICATES + 1
        ))
    );
}

#[test]
fn a_ca_listing_other_extended_key_usages_cannot_vouch_for_time() {
    let with_eku = |oid: &str| {
        let mut root = ca_extensions(None);
        let usages = ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap(oid)]);
        root.push(ext("2.5.29.37", false, &usages));
        tsa_chain(leaf_extensions(TIME_STAMPING, true), root)
    };
    for (oid, allowed) in [
        ("1.3.6.1.5.5.7.3.1", false),
        (TIME_STAMPING, true),
        ("2.5.29.37.0", true),
    ] {
        let chain = with_eku(oid);
        let mut spec = spec();
        spec.signing = chain[0].clone();
        let result = verify(&token(spec), SIGNATURE, &chain[1..]);
        if allowed {
            assert!(result.is_ok(), "{oid}: {result:?}");
        } else {
            assert_eq!(
                result,
                Err(TimestampProblem::CaExtendedKeyUsage { index: 1 })
            );
        }
    }
}

#[test]
fn a_signing_time_attribute_must_fall_within_the_chain() {
    let mut inside = spec();
    inside.signing_time = Some(at("2026-06-01T12:00:00Z"));
    assert!(verify(&token(inside), SIGNATURE, &roots()).is_ok());
    let mut outside = spec();
    outside.signing_time = Some(at("2027-06-01T12:00:00Z"));
    assert!(matches!(
        verify(&token(outside), SIGNATURE, &roots()),
        Err(TimestampProblem::Chain(ChainProblem::NotValid { .. }))
    ));
}

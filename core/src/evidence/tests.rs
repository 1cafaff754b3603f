use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::cosign::{CosignKey, Signature};
use crate::notary::TrustNeed;
use crate::reason::Class;

const NOW: UnixTime = UnixTime(1_800_000_000);

fn image() -> ImageRef {
    ImageRef::parse("icr.io/team/app:1").expect("image")
}

fn digest() -> Digest {
    Digest::from_sha256(&[7; 32])
}

fn trust() -> Need {
    Need::Trust(TrustNeed {
        server: None,
        signers: Vec::new(),
        by_tag: false,
    })
}

fn cosign(pem: &str) -> Need {
    Need::Cosign(CosignNeed {
        keys: vec![CosignKey {
            key_secret: "team/key".into(),
            public_key_pem: pem.into(),
        }],
        repository: None,
        remap: None,
    })
}

fn cosign_material(signatures: Vec<Signature>) -> Gathered {
    Ok(Material::Cosign {
        digest: digest(),
        signatures: signatures.into(),
    })
}

#[test]
fn a_fetch_failure_is_unverifiable_and_names_the_format() {
    let failure = FetchFailure::new(Cause::Timeout, "https://r/v2/: no answer within 5s");
    let why = verify(&cosign("k"), &image(), &Err(failure.clone()), NOW).expect_err("failed");
    assert_eq!(why.class, Class::Unverifiable);
    assert_eq!(why.text, "cosign: https://r/v2/: no answer within 5s");
    let why = verify(&trust(), &image(), &Err(failure), NOW).expect_err("failed");
    assert_eq!(
        why.text, "https://r/v2/: no answer within 5s",
        "the URL says it"
    );
}

#[test]
fn notary_outcomes_pass_through_and_its_refusals_are_refused() {
    let verified = Ok(Material::Trust(Ok(digest())));
    assert_eq!(verify(&trust(), &image(), &verified, NOW), Ok(&digest()));
    let refused = Ok(Material::Trust(Err(String::from(
        "no trust data for icr.io/team/app",
    ))));
    let why = verify(&trust(), &image(), &refused, NOW).expect_err("refused");
    assert_eq!(why.class, Class::Refused);
    assert!(why.text.contains("no trust data"), "{why}");
}

#[test]
fn a_tag_digest_vouches_for_itself() {
    let tag = Ok(Material::TagDigest(digest()));
    assert_eq!(verify(&Need::TagDigest, &image(), &tag, NOW), Ok(&digest()));
}

#[test]
fn material_of_another_format_never_answers_a_need() {
    let tag = Ok(Material::TagDigest(digest()));
    let why = verify(&trust(), &image(), &tag, NOW).expect_err("not trust data");
    assert_eq!(why.class, Class::Unverifiable);
    let trusted = Ok(Material::Trust(Ok(digest())));
    for need in [cosign("k"), Need::TagDigest] {
        assert!(verify(&need, &image(), &trusted, NOW).is_err(), "{need:?}");
    }
}

#[test]
fn no_cosign_signature_is_refused_and_an_unreadable_key_is_the_policys() {
    let why = verify(&cosign("k"), &image(), &cosign_material(Vec::new()), NOW).expect_err("none");
    assert_eq!(why.class, Class::Refused);
    assert!(why.text.contains("no cosign signatures found"), "{why}");
    let one = Signature {
        payload: b"{}".to_vec(),
        signature: Some("c2lnbmF0dXJl".into()),
    };
    let why = verify(
        &cosign("not a key"),
        &image(),
        &cosign_material(vec![one]),
        NOW,
    )
    .expect_err("bad key");
    assert_eq!(why.class, Class::Policy);
    assert!(why.text.contains("cosign key Secret \"team/key\""), "{why}");
}

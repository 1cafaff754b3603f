use alloc::string::ToString as _;
use alloc::vec;
use alloc::vec::Vec;

use der::asn1::{BitString, ObjectIdentifier};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::*;
use crate::notation::test_pki::{
    CODE_SIGNING, Spec, TIME_STAMPING, at, ca_extensions, chain, ext, intermediate, issue,
    leaf_extensions, remove, root, year,
};

fn code_signing_leaf() -> Vec<Extension> {
    leaf_extensions(CODE_SIGNING, false)
}

fn with_leaf(edit: impl FnOnce(&mut Vec<Extension>)) -> Vec<Vec<u8>> {
    let mut extensions = code_signing_leaf();
    edit(&mut extensions);
    chain(extensions)
}

fn mid_year() -> UnixTime {
    at("2026-06-01T00:00:00Z")
}

#[test]
fn a_ca_chain_with_a_code_signing_leaf_passes() {
    let chain = chain(code_signing_leaf());
    assert_eq!(check_code_signing(&chain, None), Ok(()));
    assert_eq!(check_code_signing(&chain, Some(mid_year())), Ok(()));
}

#[test]
fn a_leaf_without_eku_passes_and_one_for_another_purpose_does_not() {
    let chain = with_leaf(|e| remove(e, "2.5.29.37"));
    assert_eq!(check_code_signing(&chain, None), Ok(()));
    for other in ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", TIME_STAMPING] {
        let chain = chain_with_leaf_eku(&[CODE_SIGNING, other]);
        assert!(
            matches!(check_code_signing(&chain, None), Err(ChainProblem::Leaf(_))),
            "{other}"
        );
    }
    // An EKU notation does not know is neither required nor refused.
    let chain = chain_with_leaf_eku(&["1.3.6.1.4.1.311.10.3.13"]);
    assert_eq!(check_code_signing(&chain, None), Ok(()));
}

fn chain_with_leaf_eku(oids: &[&str]) -> Vec<Vec<u8>> {
    with_leaf(|e| {
        remove(e, "2.5.29.37");
        let oids = oids
            .iter()
            .map(|o| ObjectIdentifier::new_unwrap(o))
            .collect();
        e.push(ext("2.5.29.37", false, &ExtendedKeyUsage(oids)));
    })
}

fn with_key_usage(usages: KeyUsage, critical: bool) -> Vec<Vec<u8>> {
    with_leaf(|e| {
        remove(e, "2.5.29.15");
        e.push(ext("2.5.29.15", critical, &usages));
    })
}

#[test]
fn the_leaf_key_usage_is_digital_signature_critical() {
    let cases = [
        (KeyUsage(KeyUsages::KeyEncipherment.into()), true),
        (
            KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment),
            true,
        ),
        (KeyUsage(KeyUsages::DigitalSignature.into()), false),
    ];
    for (usages, critical) in cases {
        assert!(matches!(
            check_code_signing(&with_key_usage(usages, critical), None),
            Err(ChainProblem::Leaf(_))
        ));
    }
    let with_non_repudiation = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
    assert_eq!(
        check_code_signing(&with_key_usage(with_non_repudiation, true), None),
        Ok(())
    );
    let without = with_leaf(|e| remove(e, "2.5.29.15"));
    assert_eq!(
        check_code_signing(&without, None),
        Err(ChainProblem::Leaf("has no key usage extension"))
    );
}

#[test]
fn every_certificate_must_be_valid_at_the_time_given() {
    let chain = chain(code_signing_leaf());
    let after = at("2027-01-01T00:00:00Z");
    assert!(matches!(
        check_code_signing(&chain, Some(after)),
        Err(ChainProblem::NotValid { index: 0, .. })
    ));
    // Inclusive at both ends, as Go's Before/After.
    let (start, end) = year();
    assert_eq!(check_code_signing(&chain, Some(start)), Ok(()));
    assert_eq!(check_code_signing(&chain, Some(end)), Ok(()));
    assert!(check_valid_over(&chain, start, end).is_ok());
    assert!(matches!(
        check_valid_over(&chain, UnixTime(start.0 - 1), end),
        Err(ChainProblem::NotValid { index: 0, .. })
    ));
}

#[test]
fn an_intermediate_that_is_not_a_ca_is_refused() {
    let mut chain = chain(code_signing_leaf());
    let mut extensions = ca_extensions(Some(0));
    remove(&mut extensions, "2.5.29.19");
    chain[1] = intermediate(extensions);
    assert!(matches!(
        check_code_signing(&chain, None),
        Err(ChainProblem::Link(ChainError::NotCa { index: 1, .. }))
    ));
}

#[test]
fn a_ca_key_usage_must_be_critical_and_allow_cert_signing() {
    let mut chain = chain(code_signing_leaf());
    let mut extensions = ca_extensions(Some(0));
    remove(&mut extensions, "2.5.29.15");
    extensions.push(ext(
        "2.5.29.15",
        false,
        &KeyUsage(KeyUsages::KeyCertSign.into()),
    ));
    chain[1] = intermediate(extensions);
    assert!(matches!(
        check_code_signing(&chain, None),
        Err(ChainProblem::CaKeyUsage { index: 1, .. })
    ));
}

#[test]
fn path_length_counts_the_cas_below() {
    // The root has path length 0 but an intermediate CA below it.
    let root = issue(Spec {
        serial: 1,
        cn: "root",
        seed: 1,
        issuer: None,
        window: year(),
        extensions: ca_extensions(Some(0)),
        spki: None,
    });
    let mut chain = chain(code_signing_leaf());
    chain[2] = root;
    // The intermediate is signed by the new root's same key and name, so only pathLen breaks.
    assert!(matches!(
        check_code_signing(&chain, None),
        Err(ChainProblem::Link(ChainError::NotCa { index: 2, .. }))
    ));
}

#[test]
fn the_chain_must_end_in_a_self_signed_root_and_hold_no_other() {
    let chain = chain(code_signing_leaf());
    assert_eq!(
        check_code_signing(&chain[..2], None),
        Err(ChainProblem::RootNotSelfSigned { index: 1 })
    );
    let twice = [chain.clone(), vec![root()]].concat();
    assert_eq!(
        check_code_signing(&twice, None),
        Err(ChainProblem::SelfSignedInside { index: 2 })
    );
    let swapped = vec![chain[1].clone(), chain[0].clone(), chain[2].clone()];
    assert!(check_code_signing(&swapped, None).is_err());
    assert_eq!(check_code_signing(&[], None), Err(ChainProblem::Empty));
}

#[test]
fn a_self_signed_leaf_alone_is_a_chain() {
    let leaf = issue(Spec {
        serial: 9,
        cn: "self",
        seed: 9,
        issuer: None,
        window: year(),
        extensions: code_signing_leaf(),
        spki: None,
    });
    assert_eq!(check_code_signing(&[leaf], Some(mid_year())), Ok(()));
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    let chain = with_leaf(|e| e.push(ext("1.2.3.4", true, &true)));
    assert_eq!(
        check_code_signing(&chain, None),
        Err(ChainProblem::CriticalExtension {
            index: 0,
            oid: "1.2.3.4".into()
        })
    );
}

fn leaf_with_key(spki: SubjectPublicKeyInfoOwned) -> Vec<Vec<u8>> {
    let mut chain = chain(code_signing_leaf());
    chain[0] = issue(Spec {
        serial: 3,
        cn: "leaf",
        seed: 3,
        issuer: Some(("intermediate", 2)),
        window: year(),
        extensions: code_signing_leaf(),
        spki: Some(spki),
    });
    chain
}

#[test]
fn a_p521_leaf_is_one_of_notarys_key_specs() {
    let mut scalar = [7; 66];
    scalar[0] = 1;
    let key = p521::ecdsa::SigningKey::from_slice(&scalar).expect("scalar");
    let point = p521::ecdsa::VerifyingKey::from(&key).to_encoded_point(false);
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
            parameters: Some(
                der::asn1::Any::encode_from(&ObjectIdentifier::new_unwrap("1.3.132.0.35"))
                    .expect("curve"),
            ),
        },
        subject_public_key: BitString::from_bytes(point.as_bytes()).expect("bits"),
    };
    assert_eq!(check_code_signing(&leaf_with_key(spki), None), Ok(()));
}

#[test]
fn a_leaf_key_outside_notarys_key_specs_is_refused() {
    let ed25519 = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.3.101.112"),
            parameters: None,
        },
        subject_public_key: BitString::from_bytes(
            ed25519_dalek::SigningKey::from_bytes(&[5; 32])
                .verifying_key()
                .as_bytes(),
        )
        .expect("bits"),
    };
    assert!(matches!(
        check_code_signing(&leaf_with_key(ed25519), None),
        Err(ChainProblem::LeafKey(_))
    ));
}

#[test]
fn a_timestamping_leaf_has_one_critical_timestamping_eku() {
    let chain = crate::notation::test_pki::chain(leaf_extensions(TIME_STAMPING, true));
    assert_eq!(check_timestamping(&chain, Some(mid_year())), Ok(()));
    // Not a code-signing chain: timeStamping is excluded there.
    assert!(check_code_signing(&chain, None).is_err());
    let not_critical = crate::notation::test_pki::chain(leaf_extensions(TIME_STAMPING, false));
    assert!(matches!(
        check_timestamping(&not_critical, None),
        Err(ChainProblem::Leaf(_))
    ));
    let code = crate::notation::test_pki::chain(code_signing_leaf());
    assert!(matches!(
        check_timestamping(&code, None),
        Err(ChainProblem::Leaf(_))
    ));
}

#[test]
fn trust_is_any_certificate_of_the_chain_in_the_store() {
    let chain = chain(code_signing_leaf());
    let other = crate::notation::test_pki::chain(leaf_extensions(TIME_STAMPING, true));
    assert_eq!(trusted(&chain, &[chain[2].clone()]), Some(2));
    assert_eq!(
        trusted(&chain, &[other[0].clone(), chain[1].clone()]),
        Some(1)
    );
    assert_eq!(trusted(&chain, &[other[0].clone()]), None);
    assert_eq!(trusted(&chain, &[]), None);
}

#[test]
fn garbage_never_panics() {
    let chain = chain(code_signing_leaf());
    for cut in [0, 1, 10, 100, chain[0].len() - 1] {
        let broken = vec![chain[0][..cut].to_vec(), chain[1].clone(), chain[2].clone()];
        assert_eq!(
            check_code_signing(&broken, None),
            Err(ChainProblem::Malformed { index: 0 })
        );
    }
    let long = vec![chain[0].clone(); MAX_CHAIN_CERTIFICATES + 1];
    assert_eq!(
        check_code_signing(&long, None),
        Err(ChainProblem::TooLong(MAX_CHAIN_CERTIFICATES + 1))
    );
}

#[test]
fn a_validity_message_gives_the_window_and_the_range() {
    let problem = ChainProblem::NotValid {
        index: 1,
        not_before: at("2026-01-01T00:00:00Z"),
        not_after: at("2026-12-31T00:00:00Z"),
        earliest: at("2027-01-01T00:00:00Z"),
        latest: at("2027-01-01T00:00:02Z"),
    };
    assert_eq!(
        problem.to_string(),
        "certificate 1 is valid from 2026-01-01T00:00:00Z to 2026-12-31T00:00:00Z, not throughout 2027-01-01T00:00:00Z to 2027-01-01T00:00:02Z"
    );
}

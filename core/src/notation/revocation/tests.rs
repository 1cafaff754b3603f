use alloc::string::ToString as _;
use alloc::vec;
use alloc::vec::Vec;

use der::asn1::GeneralizedTime;
use x509_cert::crl::RevokedCert;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::CrlReason;

use super::*;
use crate::crypto::pem;
use crate::notation::test_pki::{
    CODE_SIGNING, CrlSpec, at, chain, crl, ext, leaf_extensions, revoked,
};

fn now() -> UnixTime {
    at("2026-06-01T00:00:00Z")
}

/// A leaf that names a CRL distribution point (the DER of an empty-ish sequence is enough:
/// only the extension's presence matters).
fn leaf_with_cdp() -> Vec<Extension> {
    let mut extensions = leaf_extensions(CODE_SIGNING, false);
    extensions.push(ext("2.5.29.31", false, &Vec::<der::asn1::Null>::new()));
    extensions
}

/// The intermediate's CRL (it issues the leaf, serial 3), current at [`now`].
fn intermediate_crl(revoked: Vec<RevokedCert>) -> CrlSpec<'static> {
    CrlSpec {
        issuer: "intermediate",
        seed: 2,
        this_update: at("2026-05-01T00:00:00Z"),
        next_update: Some(at("2026-07-01T00:00:00Z")),
        revoked,
        extensions: None,
    }
}

fn crls(specs: Vec<CrlSpec<'_>>) -> Crls {
    let files: Vec<Vec<u8>> = specs.into_iter().map(crl).collect();
    Crls::parse(&files).expect("CRLs")
}

fn check_leaf(crls: &Crls, signed_at: Option<UnixTime>) -> Result<(), RevocationProblem> {
    check(&chain(leaf_with_cdp()), crls, now(), signed_at)
}

fn reason(code: CrlReason) -> Extension {
    ext("2.5.29.21", false, &code)
}

#[test]
fn a_chain_absent_from_a_current_crl_passes() {
    let crls = crls(vec![intermediate_crl(vec![revoked(99, now(), vec![])])]);
    assert_eq!(check_leaf(&crls, None), Ok(()));
}

#[test]
fn a_listed_leaf_is_revoked() {
    let when = at("2026-05-15T00:00:00Z");
    let crls = crls(vec![intermediate_crl(vec![revoked(
        3,
        when,
        vec![reason(CrlReason::KeyCompromise)],
    )])]);
    assert_eq!(
        check_leaf(&crls, None),
        Err(RevocationProblem::Revoked {
            index: 0,
            revoked_at: when,
            reason: Some(1)
        })
    );
}

#[test]
fn an_invalidity_date_after_the_authentic_signing_time_does_not_revoke() {
    let invalid = GeneralizedTime::from_unix_duration(core::time::Duration::from_secs(
        at("2026-05-20T00:00:00Z").0,
    ))
    .expect("time");
    let crls = crls(vec![intermediate_crl(vec![revoked(
        3,
        at("2026-05-21T00:00:00Z"),
        vec![ext("2.5.29.24", false, &invalid)],
    )])]);
    assert_eq!(check_leaf(&crls, Some(at("2026-05-19T00:00:00Z"))), Ok(()));
    assert!(matches!(
        check_leaf(&crls, Some(at("2026-05-20T00:00:01Z"))),
        Err(RevocationProblem::Revoked { index: 0, .. })
    ));
    // Without an authentic signing time (notary.x509), the date is not looked at.
    assert!(matches!(
        check_leaf(&crls, None),
        Err(RevocationProblem::Revoked { index: 0, .. })
    ));
}

#[test]
fn the_latest_hold_or_removal_decides() {
    let (earlier, later) = (at("2026-05-02T00:00:00Z"), at("2026-05-03T00:00:00Z"));
    let held_then_removed = crls(vec![intermediate_crl(vec![
        revoked(3, earlier, vec![reason(CrlReason::CertificateHold)]),
        revoked(3, later, vec![reason(CrlReason::RemoveFromCRL)]),
    ])]);
    assert_eq!(check_leaf(&held_then_removed, None), Ok(()));
    let held = crls(vec![intermediate_crl(vec![revoked(
        3,
        earlier,
        vec![reason(CrlReason::CertificateHold)],
    )])]);
    assert_eq!(
        check_leaf(&held, None),
        Err(RevocationProblem::Revoked {
            index: 0,
            revoked_at: earlier,
            reason: Some(6)
        })
    );
}

#[test]
fn a_crl_signed_by_another_key_is_not_the_issuers() {
    let mut spec = intermediate_crl(vec![revoked(3, now(), vec![])]);
    spec.seed = 7;
    assert_eq!(
        check_leaf(&crls(vec![spec]), None),
        Err(RevocationProblem::Unknown {
            index: 0,
            why: Unknown::NotSignedByIssuer
        })
    );
}

#[test]
fn a_stale_or_future_crl_is_unknown_unless_a_current_one_is_also_supplied() {
    let mut stale = intermediate_crl(vec![]);
    stale.next_update = Some(at("2026-05-31T00:00:00Z"));
    assert_eq!(
        check_leaf(&crls(vec![stale]), None),
        Err(RevocationProblem::Unknown {
            index: 0,
            why: Unknown::Stale {
                next_update: at("2026-05-31T00:00:00Z")
            }
        })
    );
    let mut future = intermediate_crl(vec![]);
    future.this_update = at("2026-06-02T00:00:00Z");
    assert!(matches!(
        check_leaf(&crls(vec![future]), None),
        Err(RevocationProblem::Unknown {
            why: Unknown::NotYetIssued { .. },
            ..
        })
    ));
    let mut no_next = intermediate_crl(vec![]);
    no_next.next_update = None;
    let mut stale = intermediate_crl(vec![]);
    stale.next_update = Some(at("2026-05-31T00:00:00Z"));
    assert_eq!(
        check_leaf(&crls(vec![no_next, stale, intermediate_crl(vec![])]), None),
        Ok(())
    );
}

#[test]
fn a_leaf_with_a_distribution_point_and_no_crl_is_unknown_and_one_without_passes() {
    let none = Crls::default();
    assert_eq!(
        check_leaf(&none, None),
        Err(RevocationProblem::Unknown {
            index: 0,
            why: Unknown::NoCrl
        })
    );
    let plain = chain(leaf_extensions(CODE_SIGNING, false));
    assert_eq!(check(&plain, &none, now(), None), Ok(()));
}

#[test]
fn a_revoked_intermediate_wins_over_an_unknown_leaf() {
    let root_crl = CrlSpec {
        issuer: "root",
        seed: 1,
        revoked: vec![revoked(2, now(), vec![])],
        ..intermediate_crl(vec![])
    };
    assert!(matches!(
        check_leaf(&crls(vec![root_crl]), None),
        Err(RevocationProblem::Revoked { index: 1, .. })
    ));
}

#[test]
fn an_unknown_critical_extension_or_a_delta_crl_is_unknown() {
    let mut critical = intermediate_crl(vec![]);
    critical.extensions = Some(vec![ext("1.2.3.4", true, &true)]);
    assert_eq!(
        check_leaf(&crls(vec![critical]), None),
        Err(RevocationProblem::Unknown {
            index: 0,
            why: Unknown::CriticalExtension("1.2.3.4".into())
        })
    );
    let mut delta = intermediate_crl(vec![]);
    delta.extensions = Some(vec![ext("2.5.29.27", true, &1u32)]);
    assert_eq!(
        check_leaf(&crls(vec![delta]), None),
        Err(RevocationProblem::Unknown {
            index: 0,
            why: Unknown::DeltaCrl
        })
    );
    let entry = intermediate_crl(vec![revoked(3, now(), vec![ext("1.2.3.4", true, &true)])]);
    assert!(matches!(
        check_leaf(&crls(vec![entry]), None),
        Err(RevocationProblem::Unknown {
            why: Unknown::CriticalExtension(_),
            ..
        })
    ));
}

#[test]
fn crls_are_read_from_der_or_pem_within_bounds() {
    let der = crl(intermediate_crl(vec![revoked(3, now(), vec![])]));
    let pem = pem::encode("X509 CRL", &der).into_bytes();
    let parsed = Crls::parse(&[pem]).expect("PEM");
    assert!(matches!(
        check_leaf(&parsed, None),
        Err(RevocationProblem::Revoked { .. })
    ));
    let certificate = pem::encode("CERTIFICATE", &der).into_bytes();
    assert_eq!(
        Crls::parse(&[der.clone(), certificate]).map(|_| ()),
        Err(CrlError::Malformed { index: 1 })
    );
    for cut in [0, 1, der.len() / 2, der.len() - 1] {
        assert_eq!(
            Crls::parse(&[der[..cut].to_vec()]).map(|_| ()),
            Err(CrlError::Malformed { index: 0 })
        );
    }
    let many = vec![der.clone(); MAX_CRLS + 1];
    assert_eq!(
        Crls::parse(&many).map(|_| ()),
        Err(CrlError::TooMany(MAX_CRLS + 1))
    );
    let big = vec![0u8; MAX_CRL_BYTES + 1];
    assert!(matches!(
        Crls::parse(&[big]),
        Err(CrlError::TooLarge { index: 0, .. })
    ));
}

#[test]
fn messages_name_the_certificate_and_why() {
    let revoked = RevocationProblem::Revoked {
        index: 0,
        revoked_at: at("2026-05-15T00:00:00Z"),
        reason: Some(1),
    };
    assert_eq!(
        revoked.to_string(),
        "certificate 0 of the chain is revoked since 2026-05-15T00:00:00Z (reason 1)"
    );
    let unknown = RevocationProblem::Unknown {
        index: 1,
        why: Unknown::Stale {
            next_update: at("2026-05-31T00:00:00Z"),
        },
    };
    assert_eq!(
        unknown.to_string(),
        "the revocation status of certificate 1 of the chain is unknown: its issuer's CRL is stale (nextUpdate 2026-05-31T00:00:00Z)"
    );
}

/// Where a CRL's use can change: from its thisUpdate, and the second after its nextUpdate
/// (the notation-go vectors' intermediate CRL: 2026-12-06T17:00:19Z to 2036-12-03T17:00:19Z).
#[test]
fn a_crl_changes_at_its_this_update_and_after_its_next_update() {
    let der = include_bytes!("../../../tests/fixtures/notation/pki/crl-empty.der");
    let crls = Crls::parse(&[der.to_vec()]).expect("a CRL");
    let after = UnixTime(at("2036-12-03T17:00:19Z").0 + 1);
    assert_eq!(crls.changes(), vec![at("2026-12-06T17:00:19Z"), after]);
}

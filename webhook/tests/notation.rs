//! Notation end to end: images pushed to the rig's registries, signed by the Notary Project's
//! own library (notation-go v1.3.2, through `notation-signer`) with certificates made by
//! openssl (`scripts/notation/pki.sh`) and timestamps from the loopback timestamp authority;
//! judged by `portieris review` under `notation` policies holding a Notary Project trust policy
//! document and trust stores in Secrets. Fails, never skips, without the rig, the loopback
//! Sigstore or the signer (`scripts/test.sh` provides them).

#[allow(dead_code)] // shared with other test files
#[path = "common/notation.rs"]
mod notation;
#[allow(dead_code)] // shared with other test files
#[path = "common/review.rs"]
mod review;
#[allow(dead_code)] // shared with other test files
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)] // shared with other test files
#[path = "common/simple.rs"]
mod tools;

use std::sync::OnceLock;

use notation::{Envelope, Notation, Pki, Registry, Scheme, Sign};
use review::{Folder, Reviewed, image_policy, secret};
use serde_json::{Value, json};

fn world() -> &'static Notation {
    static WORLD: OnceLock<Notation> = OnceLock::new();
    WORLD.get_or_init(|| Notation::new(format!("notation/run-{}", std::process::id())))
}

/// One trust policy statement for `image`'s repository.
fn statement(image: &str, level: Value, stores: &[&str], identities: &[&str]) -> Value {
    json!({"name": "images", "registryScopes": [notation::repository(image)],
        "signatureVerification": level, "trustStores": stores, "trustedIdentities": identities})
}

fn strict() -> Value {
    json!({"level": "strict"})
}

/// The trust stores the tests use, by `type:name`: `ca:acme` (the PKI's root, with the
/// intermediate's CRL `crl`, if any), `ca:other` (another root), `signingAuthority:acme-sa`,
/// `tsa:loopback` (the loopback timestamp authority's root).
fn stores(world: &Notation, crl: Option<&str>) -> (Vec<Value>, Vec<Value>) {
    let mut acme = json!({"root.pem": world.pki.pem("root.pem")});
    if let Some(crl) = crl {
        acme["intermediate.crl"] = json!(world.pki.pem(crl));
    }
    let tsa_root = std::fs::read_to_string(notation::tsa().1).expect("the TSA root");
    let secrets = vec![
        secret("acme", acme),
        secret(
            "other",
            json!({"root.pem": world.pki.pem("other-root.pem")}),
        ),
        secret("acme-sa", json!({"root.pem": world.pki.pem("sa-root.pem")})),
        secret("tsa", json!({"tsa-root.crt": tsa_root})),
    ];
    let listed = vec![
        json!({"type": "ca", "name": "acme", "secret": "acme"}),
        json!({"type": "ca", "name": "other", "secret": "other"}),
        json!({"type": "signingAuthority", "name": "acme-sa", "secret": "acme-sa"}),
        json!({"type": "tsa", "name": "loopback", "secret": "tsa"}),
    ];
    (secrets, listed)
}

/// `portieris review` of a Pod running `image` under a `notation` policy for its registry whose
/// trust policy document has the one statement `statement`.
fn review(world: &Notation, image: &str, statement: Value, crl: Option<&str>) -> Reviewed {
    let host = image.split('/').next().expect("a registry");
    let (mut secrets, trust_stores) = stores(world, crl);
    let notation = json!({"trustPolicy": {"secret": "trust-policy"}, "trustStores": trust_stores});
    let document = json!({"version": "1.0", "trustPolicies": [statement]});
    secrets.push(secret(
        "trust-policy",
        json!({"trustpolicy.json": document.to_string()}),
    ));
    secrets.push(image_policy(
        json!([{"name": format!("{host}/*"), "policy": {"notation": notation}}]),
    ));
    let folder = Folder::new(&secrets);
    review::review(folder.path(), &world.rig.ca(), image, None, &[])
}

fn by_digest(image: &str, digest: &str) -> String {
    format!("{}@{digest}", notation::repository(image))
}

#[test]
fn an_image_signed_with_notation_go_is_admitted_and_pinned_and_an_unsigned_one_is_denied() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "signed");
    world.sign(&image, &digest, &Sign::default());
    let trusted = statement(&image, strict(), &["ca:acme"], &[&Pki::identity("leaf-ec")]);
    let reviewed = review(world, &image, trusted, None);
    reviewed.assert_allowed("signed by the trusted identity");
    assert_eq!(reviewed.pinned(), Some(by_digest(&image, &digest)));

    let (unsigned, _) = world.push(Registry::Referrers, "unsigned");
    let any = statement(&unsigned, strict(), &["ca:acme"], &["*"]);
    review(world, &unsigned, any, None)
        .assert_denied("unsigned", "has no Notary Project signature");
}

#[test]
fn cose_rsa_with_a_timestamp_through_the_tag_schema_is_admitted_under_a_tsa_store() {
    let world = world();
    let (image, digest) = world.push(Registry::Fallback, "cose-tsa");
    let how = Sign {
        leaf: "leaf-rsa",
        envelope: Envelope::Cose,
        timestamp: true,
        ..Sign::default()
    };
    world.sign(&image, &digest, &how);
    let stamped = statement(&image, strict(), &["ca:acme", "tsa:loopback"], &["*"]);
    review(world, &image, stamped, None).assert_allowed("COSE, RSA, timestamped");
    assert_eq!(
        review(
            world,
            &image,
            statement(&image, strict(), &["ca:acme"], &["*"]),
            None
        )
        .pinned(),
        Some(by_digest(&image, &digest))
    );
}

#[test]
fn a_signing_authority_signature_is_judged_against_its_own_store_type() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "signing-authority");
    let how = Sign {
        leaf: "sa-leaf",
        scheme: Scheme::SigningAuthority,
        envelope: Envelope::Cose,
        ..Sign::default()
    };
    world.sign(&image, &digest, &how);
    let authority = statement(&image, strict(), &["signingAuthority:acme-sa"], &["*"]);
    review(world, &image, authority, None).assert_allowed("its signing authority");
    let as_ca = statement(&image, strict(), &["ca:acme"], &["*"]);
    review(world, &image, as_ca, None).assert_denied(
        "a signing authority's signature under a ca store",
        "does not lead to a certificate of the trust stores of type signingAuthority",
    );
}

#[test]
fn an_untrusted_root_and_a_wrong_identity_are_denied_and_audit_only_logs_the_identity() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "identities");
    world.sign(&image, &digest, &Sign::default());
    let other = statement(&image, strict(), &["ca:other"], &["*"]);
    review(world, &image, other, None).assert_denied(
        "another root",
        "authenticity: the certificate chain does not lead to a certificate",
    );
    let rsa_only = [Pki::identity("leaf-rsa")];
    let rsa_only: Vec<&str> = rsa_only.iter().map(String::as_str).collect();
    let wrong = statement(&image, strict(), &["ca:acme"], &rsa_only);
    review(world, &image, wrong, None)
        .assert_denied("another identity", "is not a trusted identity");
    let audit = statement(&image, json!({"level": "audit"}), &["ca:acme"], &rsa_only);
    let audited = review(world, &image, audit, None);
    audited.assert_allowed("audit logs the identity");
    let warnings = audited.warnings();
    assert!(
        warnings.iter().any(|w| w.starts_with("Note \"")
            && w.contains("notation: logged, not enforced: authenticity")),
        "the logged failure is a warning: {warnings:?}"
    );
}

#[test]
fn an_expired_certificate_without_a_timestamp_is_denied() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "expired");
    let how = Sign {
        leaf: "leaf-expired",
        signing_time: Some("2024-06-01T00:00:00Z"),
        ..Sign::default()
    };
    world.sign(&image, &digest, &how);
    let any = statement(&image, strict(), &["ca:acme"], &["*"]);
    review(world, &image, any, None).assert_denied("expired", "authentic timestamp: certificate");
    let lenient = json!({"level": "strict", "override": {"authenticTimestamp": "log"}});
    let logged = statement(&image, lenient, &["ca:acme"], &["*"]);
    review(world, &image, logged, None).assert_allowed("the expiry only logged");
}

#[test]
fn a_certificate_revoked_in_the_supplied_crl_is_denied_under_strict() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "revoked");
    let how = Sign {
        leaf: "leaf-revoked",
        ..Sign::default()
    };
    world.sign(&image, &digest, &how);
    let strict_any = || statement(&image, strict(), &["ca:acme"], &["*"]);
    review(world, &image, strict_any(), Some("crl-revoked.pem")).assert_denied(
        "revoked",
        "revocation: certificate 0 of the chain is revoked",
    );
    review(world, &image, strict_any(), Some("crl-empty.pem"))
        .assert_allowed("a CRL that does not list it");
    review(world, &image, strict_any(), None).assert_denied(
        "no CRL for a certificate that names a distribution point",
        "revocation: the revocation status of certificate 0 of the chain is unknown",
    );
    let permissive = statement(&image, json!({"level": "permissive"}), &["ca:acme"], &["*"]);
    review(world, &image, permissive, Some("crl-revoked.pem"))
        .assert_allowed("permissive logs revocation");
}

#[test]
fn an_invalid_trust_policy_document_denies_naming_the_problem() {
    let world = world();
    let (image, digest) = world.push(Registry::Referrers, "bad-document");
    world.sign(&image, &digest, &Sign::default());
    let overlapping = statement(
        &image,
        strict(),
        &["ca:acme"],
        &[
            "x509.subject: C=US, ST=WA, O=acme-rockets.io",
            "x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=leaf-ec",
        ],
    );
    review(world, &image, overlapping, None).assert_denied("overlapping identities", "overlap");
    let unknown_store = statement(&image, strict(), &["ca:nowhere"], &["*"]);
    review(world, &image, unknown_store, None).assert_denied(
        "a store the policy does not give",
        "uses the trust store ca:nowhere, which the policy's notation.trustStores does not give",
    );
}

//! A notary repository built in memory: keys, certificates and signed metadata, with knobs
//! to break each check. Signatures are real (P-256, Ed25519, RSA), and files are written
//! pretty-printed, so verification re-canonicalises as it must for notary's own files.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec;
use alloc::vec::Vec;
use core::str::FromStr as _;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::{Decode as _, Encode as _};
use p256::pkcs8::EncodePublicKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha512};
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use super::super::NotaryError;
use super::super::canonical_json::canonicalize;
use super::super::keytype::key_id;
use super::super::{Metadata, Query, Signer, Step, TargetRef, Trusted, Verified, verify};
use crate::crypto::pem;
use crate::reference::Digest;
use crate::time::UnixTime;
use crate::time::parse_rfc3339;

pub const GUN: &str = "example.com/app";
/// An RSA key for tests (made by `openssl genpkey`): generating one in a debug build is slow.
const RSA_KEY: &str = include_str!("../testdata/rsa2048.pem");

pub fn at(text: &str) -> UnixTime {
    parse_rfc3339(text).expect("test date")
}

pub fn now() -> UnixTime {
    at("2026-06-01T00:00:00Z")
}

/// The digest of some content, as a registry would compute it.
pub fn digest_of(content: &str) -> Digest {
    Digest::from_sha256(&Sha256::digest(content.as_bytes()).into())
}

#[derive(Clone)]
enum Secret {
    Ecdsa(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(rsa::RsaPrivateKey),
}

/// A key pair with its TUF form and the PEM a policy would pin.
#[derive(Clone)]
pub struct Key {
    pub keytype: &'static str,
    pub public: Vec<u8>,
    pub id: String,
    /// What a `signerSecret` holds: SPKI `PUBLIC KEY`, or the certificate for `*-x509`.
    pub pem: String,
    secret: Secret,
}

impl Key {
    pub fn ecdsa(seed: u8) -> Self {
        let secret = ecdsa_secret(seed);
        let der = secret
            .verifying_key()
            .to_public_key_der()
            .expect("spki")
            .into_vec();
        Self::new(
            "ecdsa",
            der.clone(),
            pem::encode("PUBLIC KEY", &der),
            Secret::Ecdsa(secret),
        )
    }

    pub fn ed25519(seed: u8) -> Self {
        let secret = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let raw = secret.verifying_key().to_bytes();
        // SubjectPublicKeyInfo for Ed25519 is a fixed prefix and the raw key.
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(&raw);
        let pem = pem::encode("PUBLIC KEY", &der);
        Self::new("ed25519", raw.to_vec(), pem, Secret::Ed25519(secret))
    }

    pub fn rsa() -> Self {
        let secret = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_KEY).expect("test RSA key");
        let der = secret
            .to_public_key()
            .to_public_key_der()
            .expect("spki")
            .into_vec();
        Self::new(
            "rsa",
            der.clone(),
            pem::encode("PUBLIC KEY", &der),
            Secret::Rsa(secret),
        )
    }

    /// A self-signed P-256 certificate, as `notary init` makes for root keys.
    pub fn ecdsa_x509(seed: u8, cn: &str, not_before: &str, not_after: &str) -> Self {
        Self::ecdsa_cert(seed, cn, not_before, not_after, false)
    }

    pub fn ecdsa_cert(seed: u8, cn: &str, not_before: &str, not_after: &str, ca: bool) -> Self {
        let secret = ecdsa_secret(seed);
        let spki = SubjectPublicKeyInfoOwned::from_key(*secret.verifying_key()).expect("spki");
        let der = certificate(spki, cn, not_before, not_after, ca);
        let pem = pem::encode("CERTIFICATE", &der);
        Self::new(
            "ecdsa-x509",
            pem.clone().into_bytes(),
            pem,
            Secret::Ecdsa(secret),
        )
    }

    /// An RSA certificate, as an `openssl req -x509` signer key.
    pub fn rsa_x509(cn: &str, not_before: &str, not_after: &str) -> Self {
        let secret = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_KEY).expect("test RSA key");
        let spki = SubjectPublicKeyInfoOwned::from_key(secret.to_public_key()).expect("spki");
        let der = certificate(spki, cn, not_before, not_after, false);
        let pem = pem::encode("CERTIFICATE", &der);
        Self::new(
            "rsa-x509",
            pem.clone().into_bytes(),
            pem,
            Secret::Rsa(secret),
        )
    }

    fn new(keytype: &'static str, public: Vec<u8>, pem: String, secret: Secret) -> Self {
        Self {
            keytype,
            id: key_id(keytype, &public),
            public,
            pem,
            secret,
        }
    }

    /// `{"keytype":…,"keyval":{"private":null,"public":…}}`.
    pub fn json(&self) -> Value {
        json!({
            "keytype": self.keytype,
            "keyval": {"private": null, "public": STANDARD.encode(&self.public)},
        })
    }

    /// The method notary uses for this key type.
    pub fn method(&self) -> &'static str {
        match self.secret {
            Secret::Ecdsa(_) => "ecdsa",
            Secret::Ed25519(_) => "eddsa",
            Secret::Rsa(_) => "rsapss",
        }
    }

    /// A signature over `message` with `method` (`rsapss`, `rsapkcs1v15`, `ecdsa`, `eddsa`).
    pub fn sign_with(&self, method: &str, message: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer as _;
        match (&self.secret, method) {
            (Secret::Ecdsa(key), _) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_vec()
            }
            (Secret::Ed25519(key), _) => key.sign(message).to_vec(),
            (Secret::Rsa(key), "rsapkcs1v15") => key
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
                .expect("rsa sign"),
            (Secret::Rsa(key), _) => key
                .sign_with_rng(
                    &mut rand_core::OsRng,
                    rsa::Pss::new_with_salt::<Sha256>(32),
                    &Sha256::digest(message),
                )
                .expect("rsa sign"),
        }
    }

    /// A signature entry for an envelope.
    pub fn signature(&self, message: &[u8]) -> Value {
        json!({
            "keyid": self.id,
            "method": self.method(),
            "sig": STANDARD.encode(self.sign_with(self.method(), message)),
        })
    }
}

fn ecdsa_secret(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_bytes(&[seed; 32].into()).expect("scalar")
}

fn certificate(
    spki: SubjectPublicKeyInfoOwned,
    cn: &str,
    not_before: &str,
    not_after: &str,
    ca: bool,
) -> Vec<u8> {
    let issuer = ecdsa_secret(99);
    let time = |text: &str| {
        let seconds = Duration::from_secs(at(text).0);
        Time::UtcTime(der::asn1::UtcTime::from_unix_duration(seconds).expect("utc time"))
    };
    let validity = Validity {
        not_before: time(not_before),
        not_after: time(not_after),
    };
    let subject = Name::from_str(&alloc::format!("CN={cn}")).expect("name");
    let mut builder = CertificateBuilder::new(
        Profile::Manual { issuer: None },
        SerialNumber::from(7u32),
        validity,
        subject,
        spki,
        &issuer,
    )
    .expect("builder");
    builder
        .add_extension(&BasicConstraints {
            ca,
            path_len_constraint: None,
        })
        .expect("extension");
    let cert = builder
        .build::<p256::ecdsa::DerSignature>()
        .expect("certificate");
    cert.to_der().expect("der")
}

/// Rewrites a certificate's signature algorithm (nothing checks the certificate's signature).
pub fn with_signature_algorithm(key: &Key, oid: &str) -> Key {
    let block = pem::decode_first(&key.pem).expect("pem");
    let mut cert = x509_cert::Certificate::from_der(&block.der).expect("cert");
    cert.signature_algorithm.oid = der::asn1::ObjectIdentifier::new_unwrap(oid);
    let pem = pem::encode("CERTIFICATE", &cert.to_der().expect("der"));
    let mut key = key.clone();
    key.public = pem.clone().into_bytes();
    key.id = key_id(key.keytype, &key.public);
    key.pem = pem;
    key
}

/// Envelope edits applied after signing and before hashing.
pub type Edit = fn(&mut Value);

/// A repository: each role's `signed` object, who signs it, and edits.
pub struct Repo {
    pub root_key: Key,
    pub targets_key: Key,
    pub snapshot_key: Key,
    #[allow(dead_code)]
    pub timestamp_key: Key,
    pub alice: Key,
    pub bob: Key,
    pub mallory: Key,
    pub root: Value,
    pub timestamp: Value,
    pub snapshot: Value,
    pub targets: Value,
    /// Delegation roles by name: `signed` objects.
    pub delegations: BTreeMap<String, Value>,
    /// Who signs each role (default: the role's own key).
    pub signers: BTreeMap<String, Vec<Key>>,
    /// Edits to a role's envelope after signing (the referrer hashes the edited file).
    pub edits: BTreeMap<String, Edit>,
    /// Roles whose files the server does not have (404).
    pub missing: Vec<String>,
    /// Roles left out of the snapshot's `meta`.
    pub unlisted: Vec<String>,
}

pub const V1: &str = "manifest v1";
pub const V2: &str = "manifest v2";
pub const OLD: &str = "manifest old";

pub fn target(content: &str) -> Value {
    json!({
        "hashes": {
            "sha256": STANDARD.encode(Sha256::digest(content.as_bytes())),
            "sha512": STANDARD.encode(Sha512::digest(content.as_bytes())),
        },
        "length": content.len(),
    })
}

impl Repo {
    /// Root (ecdsa-x509), targets and snapshot (ecdsa), timestamp (ed25519); `v1` and `v2`
    /// released through `targets/releases` (alice, bob), `old` in `targets` only; signer roles
    /// `targets/alice` (ecdsa) and `targets/bob` (rsa-x509, rsapss), both signing `v1`.
    pub fn new() -> Self {
        let root_key = Key::ecdsa_x509(1, GUN, "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z");
        let targets_key = Key::ecdsa(2);
        let snapshot_key = Key::ecdsa(3);
        let timestamp_key = Key::ed25519(4);
        let alice = Key::ecdsa(10);
        let bob = Key::rsa_x509("bob", "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z");
        let mallory = Key::ecdsa(12);
        let root = json!({
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": "2036-01-01T00:00:00.123456789Z",
            "version": 1,
            "keys": keys(&[&root_key, &targets_key, &snapshot_key, &timestamp_key]),
            "roles": {
                "root": {"keyids": [root_key.id], "threshold": 1},
                "targets": {"keyids": [targets_key.id], "threshold": 1},
                "snapshot": {"keyids": [snapshot_key.id], "threshold": 1},
                "timestamp": {"keyids": [timestamp_key.id], "threshold": 1},
            },
        });
        let targets = json!({
            "_type": "Targets",
            "expires": "2029-01-01T00:00:00.5Z",
            "version": 3,
            "targets": {"v1": target(OLD), "old": target(OLD)},
            "delegations": {
                "keys": keys(&[&alice, &bob]),
                "roles": [
                    delegation("targets/releases", &[&alice, &bob], &[""]),
                    delegation("targets/alice", &[&alice], &[""]),
                    delegation("targets/bob", &[&bob], &[""]),
                ],
            },
        });
        let releases = targets_role(
            "2028-01-01T00:00:00Z",
            json!({"v1": target(V1), "v2": target(V2)}),
        );
        let alice_role = targets_role(
            "2028-01-01T00:00:00Z",
            json!({"v1": target(V1), "v2": target(V2)}),
        );
        let bob_role = targets_role("2028-01-01T00:00:00Z", json!({"v1": target(V1)}));
        let mut signers = BTreeMap::new();
        signers.insert("root".to_string(), vec![root_key.clone()]);
        signers.insert("targets".to_string(), vec![targets_key.clone()]);
        signers.insert("snapshot".to_string(), vec![snapshot_key.clone()]);
        signers.insert("timestamp".to_string(), vec![timestamp_key.clone()]);
        signers.insert("targets/releases".to_string(), vec![alice.clone()]);
        signers.insert("targets/alice".to_string(), vec![alice.clone()]);
        signers.insert("targets/bob".to_string(), vec![bob.clone()]);
        Self {
            root,
            timestamp: json!({
                "_type": "Timestamp",
                "expires": "2026-06-14T00:00:00.987654321Z",
                "version": 5,
                "meta": {},
            }),
            snapshot: json!({
                "_type": "Snapshot",
                "expires": "2029-01-01T00:00:00Z",
                "version": 4,
                "meta": {},
            }),
            targets,
            delegations: BTreeMap::from([
                ("targets/releases".to_string(), releases),
                ("targets/alice".to_string(), alice_role),
                ("targets/bob".to_string(), bob_role),
            ]),
            signers,
            edits: BTreeMap::new(),
            missing: Vec::new(),
            unlisted: Vec::new(),
            root_key,
            targets_key,
            snapshot_key,
            timestamp_key,
            alice,
            bob,
            mallory,
        }
    }

    /// Signs `signed` for `role` with its signers, applies its edit, pretty-prints.
    pub fn file(&self, role: &str, signed: &Value) -> Vec<u8> {
        let message = canonicalize(signed).expect("canonical");
        let signatures: Vec<Value> = self
            .signers
            .get(role)
            .into_iter()
            .flatten()
            .map(|key| key.signature(&message))
            .collect();
        let mut envelope = json!({"signed": signed, "signatures": signatures});
        if let Some(edit) = self.edits.get(role) {
            edit(&mut envelope);
        }
        serde_json::to_vec_pretty(&envelope).expect("json")
    }

    /// Every file as served, with hashes filled in bottom-up.
    pub fn served(&self) -> Metadata {
        let root = self.file("root", &self.root);
        let targets = self.file("targets", &self.targets);
        let mut snapshot = self.snapshot.clone();
        snapshot["meta"]["root"] = file_meta(&root);
        snapshot["meta"]["targets"] = file_meta(&targets);
        let mut delegations = BTreeMap::new();
        for (name, signed) in &self.delegations {
            let file = self.file(name, signed);
            // A role the server lost (404) is still listed with what it was.
            snapshot["meta"][name.as_str()] = file_meta(&file);
            delegations.insert(name.clone(), (!self.missing.contains(name)).then_some(file));
        }
        if let Some(meta) = snapshot["meta"].as_object_mut() {
            meta.retain(|name, _| !self.unlisted.contains(name));
        }
        let snapshot = self.file("snapshot", &snapshot);
        let mut timestamp = self.timestamp.clone();
        timestamp["meta"]["snapshot"] = file_meta(&snapshot);
        let timestamp = self.file("timestamp", &timestamp);
        Metadata {
            root,
            timestamp,
            snapshot,
            targets,
            delegations,
        }
    }
}

pub fn keys(list: &[&Key]) -> Value {
    Value::Object(list.iter().map(|k| (k.id.clone(), k.json())).collect())
}

pub fn delegation(name: &str, signers: &[&Key], paths: &[&str]) -> Value {
    let ids: Vec<&str> = signers.iter().map(|k| k.id.as_str()).collect();
    json!({"name": name, "keyids": ids, "threshold": 1, "paths": paths})
}

pub fn targets_role(expires: &str, targets: Value) -> Value {
    json!({
        "_type": "Targets",
        "expires": expires,
        "version": 2,
        "targets": targets,
        "delegations": {"keys": {}, "roles": []},
    })
}

fn file_meta(file: &[u8]) -> Value {
    json!({
        "hashes": {
            "sha256": STANDARD.encode(Sha256::digest(file)),
            "sha512": STANDARD.encode(Sha512::digest(file)),
        },
        "length": file.len(),
    })
}

/// A signer to pin.
pub fn pin(name: &str, key: &Key) -> Signer {
    Signer {
        name: name.into(),
        public_key_pem: key.pem.clone(),
    }
}

/// Drives [`verify`] like a frontend: starts with no delegations and serves what it asks for
/// from `served` (absent there = 404), checking each request only names roles not yet given.
pub fn run(
    served: &Metadata,
    target: &TargetRef,
    signers: &[Signer],
    now: UnixTime,
    trusted: Option<&Trusted>,
) -> Result<Verified, NotaryError> {
    let (verified, _) = run_logged(served, target, signers, now, trusted)?;
    Ok(verified)
}

/// [`run`], also returning each round's requested roles.
pub fn run_logged(
    served: &Metadata,
    target: &TargetRef,
    signers: &[Signer],
    now: UnixTime,
    trusted: Option<&Trusted>,
) -> Result<(Verified, Vec<Vec<String>>), NotaryError> {
    let mut metadata = Metadata {
        delegations: BTreeMap::new(),
        ..served.clone()
    };
    let query = Query {
        gun: GUN,
        target,
        signers,
    };
    let mut rounds = Vec::new();
    for _ in 0..10 {
        match verify(&query, &metadata, now, trusted)? {
            Step::Done(verified) => return Ok((verified, rounds)),
            Step::Fetch(roles) => {
                assert!(!roles.is_empty(), "an empty fetch");
                for role in &roles {
                    assert!(
                        !metadata.delegations.contains_key(role),
                        "{role} asked for twice"
                    );
                    let file = served.delegations.get(role).cloned().flatten();
                    metadata.delegations.insert(role.clone(), file);
                }
                rounds.push(roles);
            }
        }
    }
    panic!("no answer after 10 rounds: {rounds:?}");
}

pub fn tag(name: &str) -> TargetRef {
    TargetRef::Tag(name.into())
}

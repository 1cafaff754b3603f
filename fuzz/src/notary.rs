//! Notary v1 verification with keys the harness controls: the fuzzer describes a repository
//! (targets, delegations with their keys, thresholds, paths and signers, pinned signers, the
//! query, breakages, one flipped byte); the harness builds it, signs every role for real,
//! serves it to `notary::verify` like a frontend, and compares the outcome with a model of
//! the documented rules. So the fuzzer reaches the signature, threshold, hash, expiry,
//! delegation and signer checks instead of stopping at the first hash mismatch.
//!
//! Invariants: never a panic; the untampered repository verifies exactly as the model says
//! (the digest, the roles, or an error); a flipped byte in a file the verifier consumed is
//! never `Done`, and tampering never changes a `Done` answer; at most 10 fetch rounds, no role
//! asked for twice; a `Done` answer verifies again under its own `Trusted`.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::Encode as _;
use p256::pkcs8::EncodePublicKey as _;
use portieris_core::notary::{Metadata, NotaryError, Query, Signer, Step, TargetRef, verify};
use portieris_core::reference::Digest;
use portieris_core::time::UnixTime;
use rsa::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha512};
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use crate::canonical;

pub const GUN: &str = "example.com/fuzz/app";
/// 2026-06-01T00:00:00Z: the verifier's `now`.
pub const NOW: UnixTime = UnixTime(1_780_272_000);
const VALID_UNTIL: &str = "2030-01-01T00:00:00.123456789Z";
const EXPIRED_AT: &str = "2026-01-01T00:00:00Z";
/// A fixed RSA key made for the harness (`openssl genpkey`): generating one per run is slow.
const RSA_KEY: &str = include_str!("../keys/rsa2048.pem");

// ---------------------------------------------------------------------------------------
// Keys

enum Secret {
    Ecdsa(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// A key pair in its TUF form, with the PEM a policy would pin.
pub struct Key {
    keytype: &'static str,
    public: Vec<u8>,
    id: String,
    pem: String,
    secret: Secret,
}

impl Key {
    fn new(keytype: &'static str, public: Vec<u8>, pem: String, secret: Secret) -> Self {
        let id = key_id(keytype, &public);
        Self {
            keytype,
            public,
            id,
            pem,
            secret,
        }
    }

    fn ecdsa(seed: u8) -> Self {
        let secret = ecdsa_secret(seed);
        let der = secret
            .verifying_key()
            .to_public_key_der()
            .expect("spki")
            .into_vec();
        let pem = pem("PUBLIC KEY", &der);
        Self::new("ecdsa", der, pem, Secret::Ecdsa(secret))
    }

    fn ed25519(seed: u8) -> Self {
        let secret = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let raw = secret.verifying_key().to_bytes();
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(&raw);
        let pem = pem("PUBLIC KEY", &der);
        Self::new("ed25519", raw.to_vec(), pem, Secret::Ed25519(secret))
    }

    fn rsa() -> Self {
        let secret = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_KEY).expect("the harness RSA key");
        let der = secret
            .to_public_key()
            .to_public_key_der()
            .expect("spki")
            .into_vec();
        let pem = pem("PUBLIC KEY", &der);
        Self::new("rsa", der, pem, Secret::Rsa(Box::new(secret)))
    }

    /// A self-signed-looking leaf certificate for a P-256 key, as `notary init` makes.
    fn ecdsa_x509(seed: u8, cn: &str) -> Self {
        let secret = ecdsa_secret(seed);
        let spki = SubjectPublicKeyInfoOwned::from_key(*secret.verifying_key()).expect("spki");
        let pem = pem("CERTIFICATE", &certificate(spki, cn));
        Self::new(
            "ecdsa-x509",
            pem.clone().into_bytes(),
            pem,
            Secret::Ecdsa(secret),
        )
    }

    fn rsa_x509(cn: &str) -> Self {
        let secret = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_KEY).expect("the harness RSA key");
        let spki = SubjectPublicKeyInfoOwned::from_key(secret.to_public_key()).expect("spki");
        let pem = pem("CERTIFICATE", &certificate(spki, cn));
        Self::new(
            "rsa-x509",
            pem.clone().into_bytes(),
            pem,
            Secret::Rsa(Box::new(secret)),
        )
    }

    fn json(&self) -> Value {
        json!({"keytype": self.keytype, "keyval": {"private": null, "public": STANDARD.encode(&self.public)}})
    }

    fn signature(&self, message: &[u8], pkcs1: bool) -> Value {
        use p256::ecdsa::signature::Signer as _;
        let (method, bytes) = match &self.secret {
            Secret::Ecdsa(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                ("ecdsa", signature.to_vec())
            }
            Secret::Ed25519(key) => ("eddsa", key.sign(message).to_vec()),
            Secret::Rsa(key) if pkcs1 => (
                "rsapkcs1v15",
                key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
                    .expect("rsa sign"),
            ),
            Secret::Rsa(key) => {
                use rand_core::SeedableRng as _;
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
                let pss = rsa::Pss::new_with_salt::<Sha256>(32);
                let bytes = key
                    .sign_with_rng(&mut rng, pss, &Sha256::digest(message))
                    .expect("rsa sign");
                ("rsapss", bytes)
            }
        };
        json!({"keyid": self.id, "method": method, "sig": STANDARD.encode(bytes)})
    }
}

fn ecdsa_secret(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_bytes(&[seed; 32].into()).expect("a scalar")
}

/// Notary's key ID, computed independently: sha256 of the key's canonical JSON.
fn key_id(keytype: &str, public: &[u8]) -> String {
    let json =
        json!({"keytype": keytype, "keyval": {"private": null, "public": STANDARD.encode(public)}});
    let canonical = canonical::model(&json).expect("a key is canonical");
    hex(&Sha256::digest(canonical.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// PEM as Go's `pem.Encode` writes it: 64 columns, a trailing newline.
fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A leaf certificate valid 2020–2040 (signed by another key: nothing checks the issuer).
fn certificate(spki: SubjectPublicKeyInfoOwned, cn: &str) -> Vec<u8> {
    let issuer = ecdsa_secret(99);
    let time = |seconds: u64| {
        Time::UtcTime(
            der::asn1::UtcTime::from_unix_duration(Duration::from_secs(seconds)).expect("utc"),
        )
    };
    let validity = Validity {
        not_before: time(1_577_836_800),
        not_after: time(2_208_988_800),
    };
    let subject = Name::from_str(&format!("CN={cn}")).expect("a name");
    let mut builder = CertificateBuilder::new(
        Profile::Manual { issuer: None },
        SerialNumber::from(7u32),
        validity,
        subject,
        spki,
        &issuer,
    )
    .expect("a builder");
    builder
        .add_extension(&BasicConstraints {
            ca: false,
            path_len_constraint: None,
        })
        .expect("an extension");
    let cert = builder
        .build::<p256::ecdsa::DerSignature>()
        .expect("a certificate");
    cert.to_der().expect("DER")
}

/// The fixed keys: the four base roles, a second root, and the delegation pool.
struct Keys {
    root: Key,
    root_rsa: Key,
    /// Root certificate for another GUN.
    root_other: Key,
    targets: Key,
    snapshot: Key,
    timestamp: Key,
    timestamp_ecdsa: Key,
    /// alice (ecdsa), bob (ed25519), carol (rsa), dave (ecdsa-x509), mallory (ecdsa).
    pool: Vec<Key>,
}

const SIGNERS: [&str; 5] = ["alice", "bob", "carol", "dave", "mallory"];

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        root: Key::ecdsa_x509(1, GUN),
        root_rsa: Key::rsa_x509(GUN),
        root_other: Key::ecdsa_x509(5, "example.com/other"),
        targets: Key::ecdsa(2),
        snapshot: Key::ecdsa(3),
        timestamp: Key::ed25519(4),
        timestamp_ecdsa: Key::ecdsa(6),
        pool: vec![
            Key::ecdsa(10),
            Key::ed25519(11),
            Key::rsa(),
            Key::ecdsa_x509(13, "dave"),
            Key::ecdsa(12),
        ],
    })
}

// ---------------------------------------------------------------------------------------
// What the fuzzer chooses

const NAMES: [&str; 5] = ["latest", "v1", "v2", "a/b", "v1-rc"];
const ROLES: [&str; 11] = [
    "targets/releases",
    "targets/releases/a",
    "targets/releases/b",
    "targets/releases/a/c",
    "targets/alice",
    "targets/bob",
    "targets/carol",
    "targets/dave",
    "targets/mallory",
    "targets/Bad",
    "targets/releases/..",
];

#[derive(Debug, Arbitrary)]
pub enum TargetName {
    Fixed(u8),
    Free(String),
}

impl TargetName {
    fn text(&self) -> String {
        match self {
            Self::Fixed(i) => NAMES[usize::from(*i) % NAMES.len()].to_string(),
            Self::Free(text) => text.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
pub enum PathChoice {
    All,
    Fixed(u8),
    Free(String),
}

impl PathChoice {
    fn text(&self) -> String {
        const FIXED: [&str; 5] = ["v", "v1", "a/", "x", "latest"];
        match self {
            Self::All => String::new(),
            Self::Fixed(i) => FIXED[usize::from(*i) % FIXED.len()].to_string(),
            Self::Free(text) => text.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
pub struct RoleSpec {
    name: u8,
    /// Delegated key IDs (indices into the pool).
    keys: Vec<u8>,
    threshold: u8,
    /// Keys that sign the role.
    signed_by: Vec<u8>,
    paths: Vec<PathChoice>,
    targets: Vec<(TargetName, u8)>,
    expired: bool,
    /// The server answers 404.
    missing: bool,
    /// Left out of the snapshot.
    unlisted: bool,
    pkcs1: bool,
}

#[derive(Debug, Arbitrary)]
pub enum Want {
    Tag(TargetName),
    Digest(u8),
}

/// Breakages of the base roles; each must make verification fail.
#[derive(Debug, Clone, Copy, Arbitrary, PartialEq, Eq)]
pub enum Breakage {
    ExpiredRoot,
    ExpiredTimestamp,
    ExpiredSnapshot,
    ExpiredTargets,
    TargetsSignedBySnapshotKey,
    TimestampSignedByTargetsKey,
    RootSignedByOtherRoot,
    RootForOtherGun,
    SnapshotWithoutTargets,
}

#[derive(Debug, Arbitrary)]
pub struct Tamper {
    /// 0 root, 1 timestamp, 2 snapshot, 3 targets, 4.. a delegation in order.
    file: u8,
    offset: u16,
    xor: u8,
}

#[derive(Debug, Arbitrary)]
pub struct Repo {
    top: Vec<(TargetName, u8)>,
    roles: Vec<RoleSpec>,
    /// (signer index, key index) to pin.
    pins: Vec<(u8, u8)>,
    want: Want,
    root_rsa: bool,
    timestamp_ecdsa: bool,
    pretty: bool,
    breakage: Option<Breakage>,
    tamper: Option<Tamper>,
}

// ---------------------------------------------------------------------------------------
// Building the repository

/// One delegation after normalising the fuzzer's choices.
struct Role {
    name: String,
    keys: Vec<usize>,
    threshold: u64,
    signed_by: Vec<usize>,
    paths: Vec<String>,
    targets: BTreeMap<String, u8>,
    expired: bool,
    missing: bool,
    unlisted: bool,
    pkcs1: bool,
}

fn content(n: u8) -> String {
    format!("manifest {n}")
}

fn digest_of(n: u8) -> Digest {
    Digest::from_sha256(&Sha256::digest(content(n).as_bytes()).into())
}

fn target_meta(n: u8) -> Value {
    let bytes = content(n);
    json!({
        "hashes": {
            "sha256": STANDARD.encode(Sha256::digest(bytes.as_bytes())),
            "sha512": STANDARD.encode(Sha512::digest(bytes.as_bytes())),
        },
        "length": bytes.len(),
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

fn pool_index(i: u8) -> usize {
    usize::from(i) % SIGNERS.len()
}

fn normalise(repo: &Repo) -> Vec<Role> {
    let mut roles: Vec<Role> = Vec::new();
    for spec in repo.roles.iter().take(8) {
        let name = ROLES[usize::from(spec.name) % ROLES.len()].to_string();
        if roles.iter().any(|r| r.name == name) {
            continue;
        }
        let mut keys: Vec<usize> = spec.keys.iter().take(3).map(|&k| pool_index(k)).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            keys.push(0);
        }
        roles.push(Role {
            name,
            threshold: u64::from(spec.threshold % 3) + 1,
            signed_by: spec
                .signed_by
                .iter()
                .take(3)
                .map(|&k| pool_index(k))
                .collect(),
            keys,
            paths: spec.paths.iter().take(3).map(PathChoice::text).collect(),
            targets: spec
                .targets
                .iter()
                .take(4)
                .map(|(name, c)| (name.text(), *c % 4))
                .collect(),
            expired: spec.expired,
            missing: spec.missing,
            unlisted: spec.unlisted,
            pkcs1: spec.pkcs1,
        });
    }
    roles
}

/// The parent a delegation is listed in: its name without the last segment.
fn parent(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(parent, _)| parent)
}

struct Built {
    files: Metadata,
    /// Delegation files as served (absent: 404).
    served: BTreeMap<String, Vec<u8>>,
    /// Order of delegation files, for the tamper choice.
    order: Vec<String>,
}

fn envelope(signed: &Value, signers: &[(&Key, bool)], pretty: bool) -> Vec<u8> {
    let message = canonical::model(signed).expect("signed metadata is canonical");
    let signatures: Vec<Value> = signers
        .iter()
        .map(|(key, pkcs1)| signature(key, message.as_bytes(), *pkcs1))
        .collect();
    let file = json!({"signed": signed, "signatures": signatures});
    if pretty {
        serde_json::to_vec_pretty(&file).expect("JSON")
    } else {
        serde_json::to_vec(&file).expect("JSON")
    }
}

/// Signatures are deterministic, so they are remembered across runs: most inputs re-sign
/// roles an earlier input already signed, and signing (not verifying) would dominate the
/// harness's time.
fn signature(key: &Key, message: &[u8], pkcs1: bool) -> Value {
    type Cache = HashMap<(String, bool, [u8; 32]), Value>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let entry = (key.id.clone(), pkcs1, Sha256::digest(message).into());
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(signature) = cache.get(&entry) {
        return signature.clone();
    }
    if cache.len() >= 1 << 16 {
        cache.clear();
    }
    let signature = key.signature(message, pkcs1);
    cache.insert(entry, signature.clone());
    signature
}

fn delegations_json(roles: &[Role], parent_name: &str) -> Value {
    let keys = keys();
    let children: Vec<&Role> = roles
        .iter()
        .filter(|r| parent(&r.name) == parent_name)
        .collect();
    let mut key_map = serde_json::Map::new();
    for role in &children {
        for &k in &role.keys {
            key_map.insert(keys.pool[k].id.clone(), keys.pool[k].json());
        }
    }
    let list: Vec<Value> = children
        .iter()
        .map(|r| {
            let ids: Vec<&str> = r.keys.iter().map(|&k| keys.pool[k].id.as_str()).collect();
            json!({"name": r.name, "keyids": ids, "threshold": r.threshold, "paths": r.paths})
        })
        .collect();
    json!({"keys": key_map, "roles": list})
}

fn targets_json(targets: &BTreeMap<String, u8>) -> Value {
    Value::Object(
        targets
            .iter()
            .map(|(name, &c)| (name.clone(), target_meta(c)))
            .collect(),
    )
}

fn build(repo: &Repo, roles: &[Role]) -> Built {
    let keys = keys();
    let broken = |b: Breakage| repo.breakage == Some(b);
    let expires = |expired: bool| if expired { EXPIRED_AT } else { VALID_UNTIL };
    let root_key = if broken(Breakage::RootForOtherGun) {
        &keys.root_other
    } else if repo.root_rsa {
        &keys.root_rsa
    } else {
        &keys.root
    };
    let timestamp_key = if repo.timestamp_ecdsa {
        &keys.timestamp_ecdsa
    } else {
        &keys.timestamp
    };
    let root_signed = json!({
        "_type": "Root",
        "consistent_snapshot": false,
        "expires": expires(broken(Breakage::ExpiredRoot)),
        "version": 1,
        "keys": {
            root_key.id.clone(): root_key.json(),
            keys.targets.id.clone(): keys.targets.json(),
            keys.snapshot.id.clone(): keys.snapshot.json(),
            timestamp_key.id.clone(): timestamp_key.json(),
        },
        "roles": {
            "root": {"keyids": [root_key.id], "threshold": 1},
            "targets": {"keyids": [keys.targets.id], "threshold": 1},
            "snapshot": {"keyids": [keys.snapshot.id], "threshold": 1},
            "timestamp": {"keyids": [timestamp_key.id], "threshold": 1},
        },
    });
    let root_signer = if broken(Breakage::RootSignedByOtherRoot) {
        &keys.root_other
    } else {
        root_key
    };
    let root = envelope(&root_signed, &[(root_signer, false)], repo.pretty);

    let top: BTreeMap<String, u8> = repo
        .top
        .iter()
        .take(4)
        .map(|(name, c)| (name.text(), *c % 4))
        .collect();
    let targets_signed = json!({
        "_type": "Targets",
        "expires": expires(broken(Breakage::ExpiredTargets)),
        "version": 3,
        "targets": targets_json(&top),
        "delegations": delegations_json(roles, "targets"),
    });
    let targets_signer = if broken(Breakage::TargetsSignedBySnapshotKey) {
        &keys.snapshot
    } else {
        &keys.targets
    };
    let targets = envelope(&targets_signed, &[(targets_signer, false)], repo.pretty);

    let mut meta = serde_json::Map::new();
    meta.insert("root".into(), file_meta(&root));
    if !broken(Breakage::SnapshotWithoutTargets) {
        meta.insert("targets".into(), file_meta(&targets));
    }
    let mut served = BTreeMap::new();
    let mut order = Vec::new();
    for role in roles {
        let signed = json!({
            "_type": "Targets",
            "expires": expires(role.expired),
            "version": 2,
            "targets": targets_json(&role.targets),
            "delegations": delegations_json(roles, &role.name),
        });
        let signers: Vec<(&Key, bool)> = role
            .signed_by
            .iter()
            .map(|&k| (&keys.pool[k], role.pkcs1))
            .collect();
        let file = envelope(&signed, &signers, repo.pretty);
        if !role.unlisted {
            meta.insert(role.name.clone(), file_meta(&file));
        }
        if !role.missing {
            order.push(role.name.clone());
            served.insert(role.name.clone(), file);
        }
    }
    let snapshot_signed = json!({
        "_type": "Snapshot",
        "expires": expires(broken(Breakage::ExpiredSnapshot)),
        "version": 4,
        "meta": meta,
    });
    let snapshot = envelope(&snapshot_signed, &[(&keys.snapshot, false)], repo.pretty);
    let timestamp_signed = json!({
        "_type": "Timestamp",
        "expires": expires(broken(Breakage::ExpiredTimestamp)),
        "version": 5,
        "meta": {"snapshot": file_meta(&snapshot)},
    });
    let timestamp_signer = if broken(Breakage::TimestampSignedByTargetsKey) {
        &keys.targets
    } else {
        timestamp_key
    };
    let timestamp = envelope(&timestamp_signed, &[(timestamp_signer, false)], repo.pretty);
    Built {
        files: Metadata {
            root,
            timestamp,
            snapshot,
            targets,
            delegations: BTreeMap::new(),
        },
        served,
        order,
    }
}

// ---------------------------------------------------------------------------------------
// The model

/// Notary's delegation names: `targets/` then clean segments of `[-a-z0-9_]`.
fn valid_role_name(name: &str) -> bool {
    name.strip_prefix("targets/").is_some_and(|rest| {
        name.len() < 256
            && rest.split('/').count() <= 8
            && rest.split('/').all(|s| {
                !s.is_empty()
                    && s != "."
                    && s != ".."
                    && s.bytes()
                        .all(|b| matches!(b, b'-' | b'a'..=b'z' | b'0'..=b'9' | b'_'))
            })
    })
}

fn covers(paths: &[String], name: &str) -> bool {
    paths.iter().any(|p| name.starts_with(p.as_str()))
}

/// What the verifier must conclude: the digest and the roles that signed it, or an error.
fn expected(repo: &Repo, roles: &[Role]) -> Option<(Digest, Vec<String>)> {
    if repo.breakage.is_some() {
        return None;
    }
    let pins: Vec<(&str, usize)> = repo
        .pins
        .iter()
        .take(3)
        .map(|&(s, k)| (SIGNERS[usize::from(s) % SIGNERS.len()], pool_index(k)))
        .collect();
    let find = |role: &Role, paths: &[String]| -> Option<Digest> {
        match &repo.want {
            Want::Tag(name) => {
                let name = name.text();
                let c = role.targets.get(&name)?;
                covers(paths, &name).then(|| digest_of(*c))
            }
            Want::Digest(c) => {
                let want = digest_of(*c % 4);
                role.targets
                    .iter()
                    .any(|(name, &c)| covers(paths, name) && digest_of(c) == want)
                    .then_some(want)
            }
        }
    };
    let walks = |paths: &[String]| match &repo.want {
        Want::Tag(name) => covers(paths, &name.text()),
        Want::Digest(_) => true,
    };
    // A file listing a delegation with an invalid name is refused as a whole.
    let children_ok = |parent_name: &str| {
        roles
            .iter()
            .filter(|r| parent(&r.name) == parent_name)
            .all(|r| valid_role_name(&r.name))
    };
    // A loaded role: valid signers (signed by ∩ delegated) at least the threshold, not
    // expired, and its own delegations well named.
    let load_ok = |role: &Role| {
        let mut valid: Vec<usize> = role
            .signed_by
            .iter()
            .copied()
            .filter(|k| role.keys.contains(k))
            .collect();
        valid.sort_unstable();
        valid.dedup();
        valid.len() as u64 >= role.threshold && !role.expired && children_ok(&role.name)
    };
    if !children_ok("targets") {
        return None;
    }
    let absent = |role: &Role| role.unlisted || role.missing;
    // Docker's search: breadth first through the `targets/releases` subtree, else `targets`.
    let mut found: Option<(Digest, String)> = None;
    let mut queue: std::collections::VecDeque<(&Role, Vec<String>)> = roles
        .iter()
        .filter(|r| r.name == "targets/releases")
        .map(|r| (r, r.paths.clone()))
        .collect();
    while let Some((role, paths)) = queue.pop_front() {
        if !walks(&paths) || absent(role) {
            continue;
        }
        if !load_ok(role) {
            return None;
        }
        if let Some(digest) = find(role, &paths) {
            found = Some((digest, role.name.clone()));
            break;
        }
        for child in roles.iter().filter(|r| parent(&r.name) == role.name) {
            let restricted: Vec<String> = child
                .paths
                .iter()
                .filter(|p| paths.iter().any(|prefix| p.starts_with(prefix.as_str())))
                .cloned()
                .collect();
            queue.push_back((child, restricted));
        }
    }
    let (digest, release) = match found {
        Some(found) => found,
        None => {
            let top: BTreeMap<String, u8> = repo
                .top
                .iter()
                .take(4)
                .map(|(name, c)| (name.text(), *c % 4))
                .collect();
            let top_role = Role {
                name: "targets".into(),
                keys: vec![],
                threshold: 1,
                signed_by: vec![],
                paths: vec![String::new()],
                targets: top,
                expired: false,
                missing: false,
                unlisted: false,
                pkcs1: false,
            };
            (find(&top_role, &[String::new()])?, "targets".to_string())
        }
    };
    let mut signed = vec![release];
    for (signer, key) in pins {
        let name = format!("targets/{signer}");
        let role = roles.iter().find(|r| r.name == name)?;
        if !role.keys.contains(&key) || absent(role) || !load_ok(role) {
            return None;
        }
        if !role.signed_by.contains(&key) {
            return None;
        }
        if find(role, &role.paths)? != digest {
            return None;
        }
        signed.push(name);
    }
    Some((digest, signed))
}

// ---------------------------------------------------------------------------------------
// Driving the verifier

/// Runs `verify` round after round, serving the delegations it asks for. Returns the outcome
/// and the delegation roles it was given files for.
pub fn drive(
    files: &Metadata,
    served: &BTreeMap<String, Vec<u8>>,
    target: &TargetRef,
    signers: &[Signer],
    gun: &str,
    now: UnixTime,
    trusted: Option<&portieris_core::notary::Trusted>,
) -> (
    Result<portieris_core::notary::Verified, NotaryError>,
    Vec<String>,
) {
    let mut metadata = Metadata {
        delegations: BTreeMap::new(),
        ..files.clone()
    };
    let query = Query {
        gun,
        target,
        signers,
    };
    let mut consumed = Vec::new();
    for _ in 0..10 {
        match verify(&query, &metadata, now, trusted) {
            Err(e) => return (Err(e), consumed),
            Ok(Step::Done(verified)) => return (Ok(verified), consumed),
            Ok(Step::Fetch(roles)) => {
                assert!(!roles.is_empty(), "an empty fetch");
                for role in roles {
                    assert!(
                        !metadata.delegations.contains_key(&role),
                        "{role} asked for twice"
                    );
                    let file = served.get(&role).cloned();
                    if file.is_some() {
                        consumed.push(role.clone());
                    }
                    metadata.delegations.insert(role, file);
                }
            }
        }
    }
    panic!("verification still fetching after 10 rounds");
}

/// Target `notary_verify`.
pub fn run(data: &[u8]) {
    if let Ok(repo) = Repo::arbitrary_take_rest(Unstructured::new(data)) {
        check(&repo);
    }
}

/// Builds, signs and verifies `repo`, checks every invariant, and returns what verified.
pub fn check(repo: &Repo) -> Option<(Digest, Vec<String>)> {
    let keys = keys();
    let roles = normalise(repo);
    let built = build(repo, &roles);
    let target = match &repo.want {
        Want::Tag(name) => TargetRef::Tag(name.text()),
        Want::Digest(c) => TargetRef::Digest(digest_of(*c % 4)),
    };
    let signers: Vec<Signer> = repo
        .pins
        .iter()
        .take(3)
        .map(|&(s, k)| Signer {
            name: SIGNERS[usize::from(s) % SIGNERS.len()].to_string(),
            public_key_pem: keys.pool[pool_index(k)].pem.clone(),
        })
        .collect();
    let want = expected(repo, &roles);
    let (outcome, _) = drive(
        &built.files,
        &built.served,
        &target,
        &signers,
        GUN,
        NOW,
        None,
    );
    let got = outcome
        .as_ref()
        .ok()
        .map(|v| (v.digest.clone(), v.roles.clone()));
    assert_eq!(
        got, want,
        "untampered repository: verify says {outcome:?}\nrepo: {repo:?}"
    );
    if let Ok(verified) = &outcome {
        assert!(verified.expires >= NOW, "an expired chain verified");
        let (again, _) = drive(
            &built.files,
            &built.served,
            &target,
            &signers,
            GUN,
            NOW,
            Some(&verified.trusted),
        );
        let again = again.unwrap_or_else(|e| panic!("fails under its own Trusted: {e}"));
        assert_eq!(
            (&again.digest, &again.roles),
            (&verified.digest, &verified.roles)
        );
    }
    if let Some(tamper) = &repo.tamper {
        check_tamper(&built, tamper, &target, &signers, got.as_ref());
    }
    got
}

/// Flips bytes of one file; a `Done` must be the untampered answer, and never come from a
/// consumed, hash-covered file that changed, or from a timestamp whose signed part changed.
fn check_tamper(
    built: &Built,
    tamper: &Tamper,
    target: &TargetRef,
    signers: &[Signer],
    untampered: Option<&(Digest, Vec<String>)>,
) {
    let mut files = built.files.clone();
    let mut served = built.served.clone();
    let index = usize::from(tamper.file) % (4 + built.order.len());
    let name = match index {
        0 => "root".to_string(),
        1 => "timestamp".to_string(),
        2 => "snapshot".to_string(),
        3 => "targets".to_string(),
        i => built.order[i - 4].clone(),
    };
    let bytes = match index {
        0 => &mut files.root,
        1 => &mut files.timestamp,
        2 => &mut files.snapshot,
        3 => &mut files.targets,
        _ => served.get_mut(&name).expect("an ordered file is served"),
    };
    let at = usize::from(tamper.offset) % bytes.len();
    bytes[at] ^= tamper.xor | 1;
    let original_signed = signed_part(&built.files.timestamp);
    let tampered_timestamp = signed_part(&files.timestamp);
    let (outcome, consumed) = drive(&files, &served, target, signers, GUN, NOW, None);
    let Ok(verified) = outcome else {
        return;
    };
    assert_eq!(
        Some(&(verified.digest.clone(), verified.roles.clone())),
        untampered,
        "tampering with {name} changed the answer"
    );
    let hash_covered = matches!(index, 0 | 2 | 3) || consumed.contains(&name);
    assert!(!hash_covered, "a flipped byte in {name} verified");
    if index == 1 {
        assert_eq!(
            tampered_timestamp, original_signed,
            "a timestamp with another signed part verified"
        );
    }
}

/// The canonical `signed` part of a file, if it parses.
fn signed_part(bytes: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    canonical::model(value.get("signed")?)
}

// ---------------------------------------------------------------------------------------
// Raw metadata

/// The notary fixtures' signer keys, pinned by name in raw inputs.
const FIXTURE_KEYS: [(&str, &str); 4] = [
    (
        "alice",
        include_str!("../../core/tests/fixtures/notary/keys/alice.pub.pem"),
    ),
    (
        "bob",
        include_str!("../../core/tests/fixtures/notary/keys/bob.pub.pem"),
    ),
    (
        "mallory",
        include_str!("../../core/tests/fixtures/notary/keys/mallory.pub.pem"),
    ),
    (
        "releaser",
        include_str!("../../core/tests/fixtures/notary/keys/releaser.pub.pem"),
    ),
];

/// Target `notary_metadata`: served files as bytes, NUL-separated —
/// `gun\nnow\ntag-or-digest\nsigner,signer` `\0` root `\0` timestamp `\0` snapshot `\0`
/// targets, then `\0` `role\n` bytes for each delegation (`role\n` alone: a 404). Never a
/// panic, no role asked for twice, at most 10 rounds; a `Done` names its roles, is not
/// expired, and verifies again under its own `Trusted`.
pub fn run_raw(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0);
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let mut lines = header.lines();
    let gun = lines.next().unwrap_or(GUN).to_string();
    let now = lines
        .next()
        .and_then(|n| n.trim().parse().ok())
        .map_or(NOW, UnixTime);
    let want = lines.next().unwrap_or("v1");
    let target = match Digest::parse(want) {
        Ok(digest) => TargetRef::Digest(digest),
        Err(_) => TargetRef::Tag(want.to_string()),
    };
    let signers: Vec<Signer> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|name| !name.is_empty())
        .take(4)
        .map(|name| Signer {
            name: name.to_string(),
            public_key_pem: FIXTURE_KEYS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(name, |(_, pem)| pem)
                .to_string(),
        })
        .collect();
    let mut file = || parts.next().unwrap_or_default().to_vec();
    let files = Metadata {
        root: file(),
        timestamp: file(),
        snapshot: file(),
        targets: file(),
        delegations: BTreeMap::new(),
    };
    let mut served = BTreeMap::new();
    for part in parts {
        let (name, bytes) = match part.iter().position(|&b| b == b'\n') {
            Some(newline) => (&part[..newline], &part[newline + 1..]),
            None => (part, &[][..]),
        };
        if !bytes.is_empty() {
            served.insert(String::from_utf8_lossy(name).into_owned(), bytes.to_vec());
        }
    }
    let (outcome, _) = drive(&files, &served, &target, &signers, &gun, now, None);
    if let Ok(verified) = outcome {
        assert!(
            !verified.roles.is_empty(),
            "a verified target signed by no role"
        );
        assert!(verified.expires >= now, "an expired chain verified");
        if let TargetRef::Digest(digest) = &target {
            assert_eq!(&verified.digest, digest, "verified another digest");
        }
        let (again, _) = drive(
            &files,
            &served,
            &target,
            &signers,
            &gun,
            now,
            Some(&verified.trusted),
        );
        let again = again.unwrap_or_else(|e| panic!("fails under its own Trusted: {e}"));
        assert_eq!(
            (&again.digest, &again.roles),
            (&verified.digest, &verified.roles)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(
        name: u8,
        keys: Vec<u8>,
        signed_by: Vec<u8>,
        targets: Vec<(TargetName, u8)>,
    ) -> RoleSpec {
        RoleSpec {
            name,
            keys,
            threshold: 0,
            signed_by,
            paths: vec![PathChoice::All],
            targets,
            expired: false,
            missing: false,
            unlisted: false,
            pkcs1: false,
        }
    }

    fn repo(roles: Vec<RoleSpec>, pins: Vec<(u8, u8)>) -> Repo {
        Repo {
            top: vec![(TargetName::Fixed(1), 3)],
            roles,
            pins,
            want: Want::Tag(TargetName::Fixed(1)),
            root_rsa: false,
            timestamp_ecdsa: false,
            pretty: true,
            breakage: None,
            tamper: None,
        }
    }

    #[test]
    fn a_release_signed_by_its_signers_verifies() {
        // targets/releases (alice, bob) and targets/alice, targets/bob sign v1 = content 1.
        let v1 = || vec![(TargetName::Fixed(1), 1)];
        let repo = repo(
            vec![
                role(0, vec![0, 1], vec![0], v1()),
                role(4, vec![0], vec![0], v1()),
                role(5, vec![1], vec![1], v1()),
            ],
            vec![(0, 0), (1, 1)],
        );
        let (digest, roles) = check(&repo).expect("verifies");
        assert_eq!(digest, digest_of(1));
        assert_eq!(roles, ["targets/releases", "targets/alice", "targets/bob"]);
    }

    #[test]
    fn every_key_type_and_method_verifies() {
        for (signer, pkcs1) in [(0, false), (1, false), (2, false), (2, true), (3, false)] {
            let mut releases = role(
                0,
                vec![signer],
                vec![signer],
                vec![(TargetName::Fixed(1), 2)],
            );
            releases.pkcs1 = pkcs1;
            let mut repo = repo(vec![releases], vec![]);
            repo.root_rsa = signer == 2;
            repo.timestamp_ecdsa = signer == 3;
            let (digest, _) = check(&repo).unwrap_or_else(|| panic!("key {signer} pkcs1 {pkcs1}"));
            assert_eq!(digest, digest_of(2));
        }
    }

    #[test]
    fn without_releases_the_top_level_target_verifies() {
        let (digest, roles) = check(&repo(vec![], vec![])).expect("verifies");
        assert_eq!((digest, roles), (digest_of(3), vec!["targets".to_string()]));
    }

    #[test]
    fn breakages_and_tampering_fail() {
        let mut broken = repo(vec![], vec![]);
        broken.breakage = Some(Breakage::ExpiredTimestamp);
        assert_eq!(check(&broken), None);
        let mut tampered = repo(vec![], vec![]);
        tampered.tamper = Some(Tamper {
            file: 3,
            offset: 40,
            xor: 1,
        });
        assert!(check(&tampered).is_some(), "the untampered answer stands");
    }
}

//! Sigstore bundles and the transparency-log checks behind them (`portieris_core::sigstore`):
//! `Bundle::parse` with the rules of each bundle version, the DSSE statement, and
//! `tlog::verify_entry` against real logs (the public-good and staging roots' Rekor keys) and
//! against logs the harness holds the keys of, which write and sign their own checkpoints.

use std::sync::OnceLock;

use arbitrary::Unstructured;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use portieris_core::limits::{
    MAX_BUNDLE_BYTES, MAX_BUNDLE_CHAIN, MAX_INCLUSION_PROOF_HASHES, MAX_RFC3161_TIMESTAMPS,
    MAX_TLOG_ENTRIES,
};
use portieris_core::sigstore::bundle::{
    Bundle, BundleError, Content, InclusionProof, Material, Version, dsse,
};
use portieris_core::sigstore::tlog::{
    CheckpointError, Claim, MAX_CLOCK_SKEW_SECONDS, ProofError, Signer, TlogError, verify_entry,
};
use portieris_core::sigstore::trusted_root::{LogKey, MEDIA_TYPES, Section, TrustedRootError};
use portieris_core::sigstore::{PUBLIC_GOOD_ROOT, TrustedRoot};
use portieris_core::time::{UnixTime, parse_rfc3339};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::input;

/// The day the conformance expectations were written (`tlog/conformance.rs`'s `NOW`).
const NOW: &str = "2026-12-06T00:00:00Z";

fn now() -> UnixTime {
    parse_rfc3339(NOW).expect("a fixed date")
}

/// SHA-256 of the conformance suite's artifact, `a.txt`.
fn artifact() -> [u8; 32] {
    static DIGEST: OnceLock<[u8; 32]> = OnceLock::new();
    *DIGEST.get_or_init(|| {
        Sha256::digest(include_bytes!(
            "../../core/tests/vectors/sigstore/conformance/a.txt"
        ))
        .into()
    })
}

/// The Rekor logs of the public-good root the core ships and of the staging root, read by
/// `TrustedRoot::parse`.
fn public_logs() -> &'static [LogKey] {
    static LOGS: OnceLock<Vec<LogKey>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let mut logs = Vec::new();
        for json in [
            PUBLIC_GOOD_ROOT,
            &include_bytes!("../../core/tests/vectors/sigstore/staging-trusted_root.json")[..],
        ] {
            logs.extend(TrustedRoot::parse(json).expect("a vector root").tlogs);
        }
        assert!(logs.len() >= 4, "{} logs", logs.len());
        logs
    })
}

/// The conformance suite's managed key (P-256), as the policy's key for `publicKey` bundles.
fn managed_key() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = include_str!(
            "../../core/tests/vectors/sigstore/conformance/managed-key-happy-path/key.pub"
        );
        p256::PublicKey::from_public_key_pem(pem)
            .expect("a P-256 key")
            .to_public_key_der()
            .expect("DER")
            .into_vec()
    })
}

/// Target `sigstore_bundle`: a bundle's JSON.
pub fn run_bundle(data: &[u8]) {
    let parsed = Bundle::parse(data);
    if data.len() > MAX_BUNDLE_BYTES {
        assert!(
            matches!(parsed, Err(BundleError::TooLarge { .. })),
            "{parsed:?}"
        );
        return;
    }
    let Ok(bundle) = parsed else { return };
    check_invariants(data, &bundle);
    check_content(&bundle);
    check_entries(&bundle);
}

/// What every bundle the parser accepts holds, by its version.
fn check_invariants(json: &[u8], bundle: &Bundle) {
    assert!(bundle.tlog_entries.len() <= MAX_TLOG_ENTRIES);
    assert!(bundle.rfc3161_timestamps.len() <= MAX_RFC3161_TIMESTAMPS);
    assert!(bundle.rfc3161_timestamps.iter().all(|t| !t.is_empty()));
    for entry in &bundle.tlog_entries {
        match bundle.version {
            Version::V0_1 => assert!(entry.inclusion_promise.is_some(), "v0.1 without promise"),
            Version::V0_2 | Version::V0_3 => {
                assert!(
                    entry.inclusion_proof.is_some(),
                    "{} without proof",
                    bundle.version
                )
            }
        }
        assert!(!entry.log_id.is_empty() && !entry.body.is_empty());
        assert!(
            entry
                .inclusion_promise
                .as_ref()
                .is_none_or(|p| !p.is_empty())
        );
        assert_ne!(entry.integrated_time, Some(UnixTime(0)));
        if let Some(proof) = &entry.inclusion_proof {
            assert!(proof.hashes.len() <= MAX_INCLUSION_PROOF_HASHES);
        }
    }
    match &bundle.material {
        Material::Certificate { leaf, chain } => {
            assert!(!leaf.is_empty() && chain.iter().all(|c| !c.is_empty()));
            assert!(1 + chain.len() <= MAX_BUNDLE_CHAIN);
            if bundle.version == Version::V0_3 {
                assert!(chain.is_empty(), "a v0.3 bundle with a chain");
            }
            assert_eq!(bundle.leaf_certificate(), Some(&leaf[..]));
        }
        Material::PublicKey { .. } => assert_eq!(bundle.leaf_certificate(), None),
    }
    match &bundle.content {
        Content::MessageSignature(message) => {
            assert!(!message.signature.is_empty());
            assert!(message.digest.as_ref().is_none_or(|d| !d.digest.is_empty()));
        }
        Content::Dsse(envelope) => {
            assert!(!envelope.payload.is_empty() && !envelope.signature.is_empty())
        }
    }
    // The document as any JSON (when serde_json reads it whole: it does not check what the
    // core skips, see H2/H3): the media type names the version, and the certificate comes in
    // the form the version allows.
    let Ok(value) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let want = match value["mediaType"].as_str() {
        Some("application/vnd.dev.sigstore.bundle+json;version=0.1") => Version::V0_1,
        Some("application/vnd.dev.sigstore.bundle+json;version=0.2") => Version::V0_2,
        Some("application/vnd.dev.sigstore.bundle+json;version=0.3")
        | Some("application/vnd.dev.sigstore.bundle.v0.3+json") => Version::V0_3,
        other => panic!("accepted media type {other:?}"),
    };
    assert_eq!(bundle.version, want);
    let material = &value["verificationMaterial"];
    let present = |name: &str| material.get(name).is_some_and(|v| !v.is_null());
    match (&bundle.material, bundle.version) {
        (Material::Certificate { .. }, Version::V0_3) => {
            assert!(present("certificate") && !present("x509CertificateChain"))
        }
        (Material::Certificate { .. }, _) => {
            assert!(present("x509CertificateChain") && !present("certificate"))
        }
        (Material::PublicKey { .. }, _) => assert!(
            present("publicKey") && !present("certificate") && !present("x509CertificateChain")
        ),
    }
    let entries = material["tlogEntries"].as_array().map_or(0, Vec::len);
    assert_eq!(bundle.tlog_entries.len(), entries);
}

/// DSSE: the PAE is DSSE v1's, and a statement accepted for a digest names it.
fn check_content(bundle: &Bundle) {
    let Content::Dsse(envelope) = &bundle.content else {
        return;
    };
    let mut want = format!(
        "DSSEv1 {} {} {} ",
        envelope.payload_type.len(),
        envelope.payload_type,
        envelope.payload.len()
    )
    .into_bytes();
    want.extend_from_slice(&envelope.payload);
    assert_eq!(dsse::pae(&envelope.payload_type, &envelope.payload), want);
    let mut digests = vec![artifact()];
    if let Some(subject) = first_subject(&envelope.payload) {
        digests.push(subject);
    }
    for digest in digests {
        if dsse::check_statement(&envelope.payload, &digest).is_ok() {
            assert!(
                names(&envelope.payload, &digest),
                "a statement not naming it"
            );
        }
    }
}

fn statement(payload: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let kind = value["_type"].as_str()?;
    [
        "https://in-toto.io/Statement/v0.1",
        "https://in-toto.io/Statement/v1",
    ]
    .contains(&kind)
    .then_some(value)
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn first_subject(payload: &[u8]) -> Option<[u8; 32]> {
    statement(payload)?["subject"]
        .as_array()?
        .iter()
        .find_map(|s| s["digest"]["sha256"].as_str().and_then(hex32))
}

/// The model: an in-toto statement with a subject whose `sha256` is the digest (either case).
/// Only asked when the core accepted, and only when serde_json reads the payload whole.
fn names(payload: &[u8], digest: &[u8; 32]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        return true;
    };
    statement(payload).is_some()
        && value["subject"].as_array().is_some_and(|subjects| {
            subjects
                .iter()
                .any(|s| s["digest"]["sha256"].as_str().and_then(hex32) == Some(*digest))
        })
}

/// Every entry against the public-good and staging logs, for `a.txt` by the bundle's
/// certificate or the suite's managed key, at a fixed `now`.
fn check_entries(bundle: &Bundle) {
    let logs = public_logs();
    let digest = artifact();
    let claim = Claim {
        bundle,
        artifact_sha256: &digest,
        signer: Signer::of(bundle, Some(managed_key())).expect("a key is given"),
    };
    let now = now();
    for entry in &bundle.tlog_entries {
        let Ok(logged) = verify_entry(entry, logs, &claim, now) else {
            continue;
        };
        assert_eq!(logged.log.log_id, entry.log_id, "another log vouched");
        assert!(entry.inclusion_promise.is_some() || entry.inclusion_proof.is_some());
        if let Some(time) = entry.integrated_time {
            assert!(time.0 <= now.0 + MAX_CLOCK_SKEW_SECONDS, "in the future");
            assert!(
                logged.log.validity.contains(time),
                "outside the log's validity"
            );
        }
        match (&entry.inclusion_promise, logged.integrated_time) {
            (Some(_), Some(time)) => assert_eq!(Some(time), entry.integrated_time),
            (None, None) => {}
            (promise, time) => panic!("promise {promise:?}, proven time {time:?}"),
        }
        if let Some(proof) = &entry.inclusion_proof {
            assert_eq!(
                model_root(
                    proof.log_index,
                    proof.tree_size,
                    leaf_hash(&entry.body),
                    &proof.hashes
                ),
                Some(proof.root_hash),
                "the proof holds for the core, not for RFC 9162's PATH"
            );
            if entry.inclusion_promise.is_none() {
                assert!(
                    proof.checkpoint.is_some(),
                    "a proof alone without checkpoint"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Merkle trees, from RFC 9162's recursive definitions (not the core's iterative walk).

fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    Sha256::new_with_prefix([0])
        .chain_update(leaf)
        .finalize()
        .into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new_with_prefix([1])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The largest power of two smaller than `size` (`size` > 1).
fn split(size: u64) -> u64 {
    1 << (63 - (size - 1).leading_zeros())
}

/// How many hashes `PATH(index, D[size])` has.
fn path_len(index: u64, size: u64) -> usize {
    if size <= 1 {
        return 0;
    }
    let k = split(size);
    1 + if index < k {
        path_len(index, k)
    } else {
        path_len(index - k, size - k)
    }
}

/// The root a path leads to: `PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])` for `m < k`,
/// `PATH(m - k, D[k:n]) : MTH(D[0:k])` otherwise; `None` for a path of the wrong length or an
/// index outside the tree.
fn model_root(index: u64, size: u64, leaf: [u8; 32], path: &[[u8; 32]]) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    if size == 1 {
        return path.is_empty().then_some(leaf);
    }
    let (top, rest) = path.split_last()?;
    let k = split(size);
    Some(if index < k {
        node_hash(&model_root(index, k, leaf, rest)?, top)
    } else {
        node_hash(top, &model_root(index - k, size - k, leaf, rest)?)
    })
}

// ---------------------------------------------------------------------------------------
// Checkpoints: logs whose keys the harness holds.

/// A log the harness signs for: Rekor v2's kind (Ed25519) or Rekor v1's (ECDSA P-256).
enum LogSigner {
    Ed25519(ed25519_dalek::SigningKey),
    Ecdsa(p256::ecdsa::SigningKey),
}

struct TestLog {
    name: &'static str,
    signer: LogSigner,
    key: LogKey,
}

impl TestLog {
    fn new(name: &'static str, signer: LogSigner) -> Self {
        let spki = match &signer {
            LogSigner::Ed25519(key) => {
                let mut der = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                der.extend_from_slice(key.verifying_key().as_bytes());
                der
            }
            LogSigner::Ecdsa(key) => key
                .verifying_key()
                .to_public_key_der()
                .expect("DER")
                .into_vec(),
        };
        // C2SP's note key ID for Ed25519, Rekor's SHA-256 of the key for ECDSA: what trusted
        // roots use as log IDs.
        let log_id: [u8; 32] = match &signer {
            LogSigner::Ed25519(key) => Sha256::new()
                .chain_update(name)
                .chain_update([b'\n', 0x01])
                .chain_update(key.verifying_key().as_bytes())
                .finalize()
                .into(),
            LogSigner::Ecdsa(_) => Sha256::digest(&spki).into(),
        };
        let details = match &signer {
            LogSigner::Ed25519(_) => "PKIX_ED25519",
            LogSigner::Ecdsa(_) => "PKIX_ECDSA_P256_SHA_256",
        };
        let root = serde_json::json!({
            "mediaType": MEDIA_TYPES[0],
            "tlogs": [{
                "baseUrl": format!("https://{name}"),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(&spki),
                    "keyDetails": details,
                    "validFor": {"start": "1970-01-01T00:00:00Z"},
                },
                "logId": {"keyId": STANDARD.encode(log_id)},
            }],
        });
        let json = serde_json::to_vec(&root).expect("JSON");
        let mut root = TrustedRoot::parse(&json).expect("the harness's root");
        let key = root.tlogs.pop().expect("its log");
        Self { name, signer, key }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.signer {
            LogSigner::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            LogSigner::Ecdsa(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
        }
    }

    /// The independent check: `signature` is this log's over `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        match &self.signer {
            LogSigner::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| key.verifying_key().verify(message, &s).is_ok()),
            LogSigner::Ecdsa(key) => p256::ecdsa::Signature::from_der(signature).is_ok_and(|s| {
                p256::ecdsa::signature::Verifier::verify(key.verifying_key(), message, &s).is_ok()
            }),
        }
    }

    /// `— <name> <base64(key ID[..4] ‖ signature)>\n` over `note`.
    fn line(&self, name: &str, note: &str) -> String {
        let mut raw = self.key.log_id[..4].to_vec();
        raw.extend_from_slice(&self.sign(note.as_bytes()));
        format!("\u{2014} {name} {}\n", STANDARD.encode(raw))
    }
}

fn test_logs() -> &'static [TestLog; 3] {
    static LOGS: OnceLock<[TestLog; 3]> = OnceLock::new();
    LOGS.get_or_init(|| {
        [
            TestLog::new(
                "log2.example",
                LogSigner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[7; 32])),
            ),
            TestLog::new(
                "log1.example",
                LogSigner::Ecdsa(
                    p256::ecdsa::SigningKey::from_bytes(&[5; 32].into()).expect("a key"),
                ),
            ),
            // A witness: its lines are other keys' cosignatures, ignored by the verifier.
            TestLog::new(
                "witness.example",
                LogSigner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[8; 32])),
            ),
        ]
    })
}

/// A conformance bundle whose one entry's body records `a.txt` by its certificate: the entry
/// the checkpoints are for (its promise, time and proof replaced by the harness's).
fn base_bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let json = include_bytes!(
            "../../core/tests/vectors/sigstore/conformance/happy-path-v0.3/bundle.sigstore.json"
        );
        Bundle::parse(json).expect("the vector parses")
    })
}

/// The fixed tree raw checkpoints are checked against: leaf 3 of 7.
pub const RAW_INDEX: u64 = 3;
pub const RAW_SIZE: u64 = 7;

fn path_hash(seed: u8, at: usize) -> [u8; 32] {
    Sha256::new()
        .chain_update([seed])
        .chain_update(at.to_le_bytes())
        .finalize()
        .into()
}

/// A proof for the base entry at `index` of `size`, its siblings made from `seed`.
fn proof(index: u64, size: u64, seed: u8) -> InclusionProof {
    let body = &base_bundle().tlog_entries[0].body;
    let hashes: Vec<[u8; 32]> = (0..path_len(index, size))
        .map(|at| path_hash(seed, at))
        .collect();
    let root_hash = model_root(index, size, leaf_hash(body), &hashes).expect("a right path");
    InclusionProof {
        log_index: index,
        root_hash,
        tree_size: size,
        hashes,
        checkpoint: None,
    }
}

/// The raw target's tree: what a checkpoint must name to verify.
pub fn raw_proof() -> InclusionProof {
    proof(RAW_INDEX, RAW_SIZE, 0)
}

/// Verifies the base entry with `proof` (and `text` as its checkpoint) in `log`.
fn verify(log: &TestLog, proof: &InclusionProof, text: Option<&str>) -> Result<(), TlogError> {
    let mut bundle = base_bundle().clone();
    let entry = &mut bundle.tlog_entries[0];
    entry.log_id = log.key.log_id.clone();
    entry.integrated_time = None;
    entry.inclusion_promise = None;
    let mut proof = proof.clone();
    proof.checkpoint = text.map(str::to_string);
    entry.inclusion_proof = Some(proof);
    let entry = bundle.tlog_entries[0].clone();
    let digest = artifact();
    let claim = Claim {
        bundle: &bundle,
        artifact_sha256: &digest,
        signer: Signer::of(&bundle, None).expect("a certificate"),
    };
    let logged = verify_entry(&entry, std::slice::from_ref(&log.key), &claim, now())?;
    assert!(logged.integrated_time.is_none(), "a time from a proof");
    Ok(())
}

/// A checkpoint note: origin, size, root, extension lines.
pub fn write_note(origin: &str, size: u64, root: &[u8; 32], extensions: &[&str]) -> String {
    let mut note = format!("{origin}\n{size}\n{}\n", STANDARD.encode(root));
    for line in extensions {
        note.push_str(line);
        note.push('\n');
    }
    note
}

/// A checkpoint of the raw tree signed by log `which` (0: Ed25519, 1: ECDSA), for the seeds.
pub fn raw_seed(which: usize, origin_suffix: &str, extensions: &[&str], witness: bool) -> String {
    let log = &test_logs()[which];
    let proof = raw_proof();
    let note = write_note(
        &format!("{}{origin_suffix}", log.name),
        proof.tree_size,
        &proof.root_hash,
        extensions,
    );
    let mut text = format!("{note}\n{}", log.line(log.name, &note));
    if witness {
        let witness = &test_logs()[2];
        text.push_str(&witness.line(witness.name, &note));
    }
    text
}

/// Target `checkpoint`. Without a NUL, the input is a checkpoint for the fixed tree (leaf 3 of
/// 7), tried with both harness logs: whatever verifies must be, for an independent reader of
/// signed notes, a note for that tree with the log's origin and a line the log signed.
/// With a NUL, the control bytes after it describe a tree and a note (the lines before it are
/// extension lines), which the harness writes and signs: it must verify, a note for another
/// tree must not, one changed byte must not, a broken Merkle path must not.
pub fn run_checkpoint(data: &[u8]) {
    match data.iter().rposition(|&b| b == 0) {
        None => run_raw(data),
        Some(_) => {
            let (text, control) = input::split(data);
            run_model(text, control);
        }
    }
}

fn run_raw(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let proof = raw_proof();
    for log in &test_logs()[..2] {
        if verify(log, &proof, Some(text)).is_ok() {
            assert!(model_accepts(log, text, &proof), "accepted: {text:?}");
        }
    }
}

/// C2SP signed-note and tlog-checkpoint, read directly: the text up to the first blank line
/// is the note (origin, size, root hash, extensions); after it, signature lines, each
/// `— name base64`, the whole ending in a newline; one line has the log's name, key hint and
/// a signature over the note by the log's key.
fn model_accepts(log: &TestLog, text: &str, proof: &InclusionProof) -> bool {
    let Some(blank) = text.find("\n\n") else {
        return false;
    };
    let (note, signatures) = (&text[..=blank], &text[blank + 2..]);
    let Some(signatures) = signatures.strip_suffix('\n') else {
        return false;
    };
    let mut lines = note.split('\n');
    let origin = lines.next().unwrap_or("");
    let origin_ok = origin == log.name
        || origin
            .strip_prefix(log.name)
            .is_some_and(|rest| rest.starts_with(" - "));
    let size_ok = lines.next() == Some(proof.tree_size.to_string().as_str());
    let root_ok = lines.next() == Some(STANDARD.encode(proof.root_hash).as_str());
    let signed = signatures.split('\n').any(|line| {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return false;
        };
        let Some((name, encoded)) = rest.split_once(' ') else {
            return false;
        };
        let Ok(raw) = STANDARD.decode(encoded) else {
            return false;
        };
        name == log.name
            && raw.len() > 4
            && raw[..4] == log.key.log_id[..4]
            && log.verifies(note.as_bytes(), &raw[4..])
    });
    origin_ok && size_ok && root_ok && signed
}

fn run_model(text: &[u8], control: &[u8]) {
    let mut u = Unstructured::new(control);
    let log = &test_logs()[usize::from(input::byte(&mut u, 0) % 2)];
    let origin = match input::byte(&mut u, 0) % 3 {
        0 => log.name.to_string(),
        1 => format!("{} - {}", log.name, u.arbitrary::<u64>().unwrap_or(0)),
        _ => format!("{} - ", log.name),
    };
    let size = u.arbitrary::<u64>().unwrap_or(7).max(1);
    let index = u.arbitrary::<u64>().unwrap_or(0) % size;
    let seed = input::byte(&mut u, 0);
    let witnesses = usize::from(input::byte(&mut u, 0) % 3);
    let at = u.arbitrary::<u16>().unwrap_or(0);
    let flip = input::byte(&mut u, 1).max(1);
    let proof = proof(index, size, seed);
    // Extension lines: the text's non-empty lines, as far as they are UTF-8.
    let text = String::from_utf8_lossy(text);
    let extensions: Vec<&str> = text
        .split('\n')
        .filter(|line| !line.is_empty())
        .take(8)
        .collect();
    let note = write_note(&origin, size, &proof.root_hash, &extensions);
    let signed = format!("{note}\n{}", log.line(log.name, &note));
    let mut whole = signed.clone();
    for _ in 0..witnesses {
        let witness = &test_logs()[2];
        whole.push_str(&witness.line(witness.name, &note));
    }

    // What the harness wrote and signed verifies: the note reads back to its origin, size and
    // root (the proof's), under the log's signature.
    assert_eq!(verify(log, &proof, Some(&whole)), Ok(()), "{whole:?}");
    // The same log's note for another tree does not.
    let other_size = if size == u64::MAX { size - 1 } else { size + 1 };
    for (other_size, other_root) in [
        (other_size, proof.root_hash),
        (size, {
            let mut root = proof.root_hash;
            root[usize::from(seed) % 32] ^= flip;
            root
        }),
    ] {
        let other = write_note(&origin, other_size, &other_root, &extensions);
        let text = format!("{other}\n{}", log.line(log.name, &other));
        assert_eq!(
            verify(log, &proof, Some(&text)),
            Err(TlogError::Checkpoint(CheckpointError::Mismatch))
        );
    }
    // One byte changed in the note or the log's line (witness lines are not the log's: a
    // change there may rightly go unnoticed).
    let mut bytes = whole.clone().into_bytes();
    let at = usize::from(at) % signed.len();
    bytes[at] ^= flip;
    if let Ok(changed) = String::from_utf8(bytes) {
        assert!(
            verify(log, &proof, Some(&changed)).is_err(),
            "byte {at} changed and still verified: {changed:?}"
        );
    }
    // Only the witnesses' lines: no line of the log.
    let witnesses_only = format!("{note}\n{}", &whole[signed.len()..]);
    let want = if witnesses == 0 {
        CheckpointError::Note
    } else {
        CheckpointError::NoLogSignature
    };
    assert_eq!(
        verify(log, &proof, Some(&witnesses_only)),
        Err(TlogError::Checkpoint(want))
    );
    // A path with one sibling changed, one too many or one too few leads elsewhere.
    if !proof.hashes.is_empty() {
        let mut bad = proof.clone();
        let at = usize::from(seed) % bad.hashes.len();
        bad.hashes[at][0] ^= flip;
        assert_eq!(
            verify(log, &bad, Some(&whole)),
            Err(TlogError::Proof(ProofError::RootMismatch))
        );
        let mut short = proof.clone();
        short.hashes.pop();
        assert_eq!(
            verify(log, &short, Some(&whole)),
            Err(TlogError::Proof(ProofError::PathLength))
        );
    }
    let mut long = proof.clone();
    long.hashes.push([0; 32]);
    assert_eq!(
        verify(log, &long, Some(&whole)),
        Err(TlogError::Proof(ProofError::PathLength))
    );
    // A proof alone, without a checkpoint or a promise, vouches for nothing.
    assert_eq!(verify(log, &proof, None), Err(TlogError::MissingCheckpoint));
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = "../core/tests/vectors/sigstore";

    #[test]
    fn the_merkle_model_agrees_with_a_tree_built_by_hand() {
        let leaves: Vec<[u8; 32]> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        let n01 = node_hash(&leaves[0], &leaves[1]);
        let n23 = node_hash(&leaves[2], &leaves[3]);
        let root = node_hash(&node_hash(&n01, &n23), &leaves[4]);
        assert_eq!(
            model_root(4, 5, leaves[4], &[node_hash(&n01, &n23)]),
            Some(root)
        );
        assert_eq!(
            model_root(2, 5, leaves[2], &[leaves[3], n01, leaves[4]]),
            Some(root)
        );
        assert_eq!(path_len(2, 5), 3);
        assert_eq!(path_len(4, 5), 1);
    }

    #[test]
    fn the_models_run_on_the_seeds() {
        for seed in [
            b"\0".as_slice(),
            b"Timestamp: 1\0\x01\x01",
            b"\0\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff",
        ] {
            run_checkpoint(seed);
        }
        let text = raw_seed(0, "", &[], true);
        assert!(verify(&test_logs()[0], &raw_proof(), Some(&text)).is_ok());
        run_checkpoint(text.as_bytes());
    }

    #[test]
    fn the_vector_bundles_keep_their_invariants() {
        for entry in std::fs::read_dir(format!("{VECTORS}/conformance")).expect("vectors") {
            let path = entry.expect("a case").path().join("bundle.sigstore.json");
            if let Ok(json) = std::fs::read(&path) {
                run_bundle(&json);
            }
        }
    }
}

/// Target `trusted_root`: a `trusted_root.json`, read by `TrustedRoot::parse` (the parser only).
pub fn run_trusted_root(data: &[u8]) {
    use portieris_core::limits::{MAX_TRUSTED_ROOT_BYTES, MAX_TRUSTED_ROOT_ENTRIES};
    let parsed = TrustedRoot::parse(data);
    if data.len() > MAX_TRUSTED_ROOT_BYTES {
        assert!(
            matches!(parsed, Err(TrustedRootError::TooLarge(_))),
            "{parsed:?}"
        );
        return;
    }
    let root = match parsed {
        Ok(root) => root,
        Err(TrustedRootError::TooManyEntries { section, count }) => {
            assert!(count > MAX_TRUSTED_ROOT_ENTRIES, "{section:?} {count}");
            return;
        }
        Err(_) => return,
    };
    for (section, logs) in [
        (Section::Tlogs, &root.tlogs),
        (Section::Ctlogs, &root.ctlogs),
    ] {
        assert!(logs.len() <= MAX_TRUSTED_ROOT_ENTRIES, "{section:?}");
        for log in logs {
            assert!(!log.key_der.is_empty());
            assert!(log.validity.end.is_none_or(|end| end >= log.validity.start));
            assert!(log.validity.contains(log.validity.start));
        }
    }
    for authorities in [&root.certificate_authorities, &root.timestamp_authorities] {
        assert!(authorities.len() <= MAX_TRUSTED_ROOT_ENTRIES);
        for authority in authorities {
            assert!(
                authority
                    .validity
                    .end
                    .is_none_or(|end| end >= authority.validity.start)
            );
        }
    }
    // On the document as any JSON (when serde_json reads it whole): the media type is one the
    // reader knows, and every log read is one the document lists, with its key's bytes.
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    assert!(
        value["mediaType"]
            .as_str()
            .is_some_and(|media_type| MEDIA_TYPES.contains(&media_type)),
        "media type {:?}",
        value["mediaType"]
    );
    for (name, logs) in [("tlogs", &root.tlogs), ("ctlogs", &root.ctlogs)] {
        let listed: Vec<&Value> = value[name]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        assert!(logs.len() <= listed.len(), "{name}: more logs than listed");
        for log in logs {
            assert!(
                listed.iter().any(|entry| {
                    entry["baseUrl"].as_str().unwrap_or("") == log.base_url
                        && entry["publicKey"]["rawBytes"]
                            .as_str()
                            .and_then(|text| STANDARD.decode(text).ok())
                            .is_some_and(|der| der == log.key_der)
                }),
                "{name}: a log the document does not list ({})",
                log.base_url
            );
        }
    }
}

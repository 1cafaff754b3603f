//! One image's attestations judged against an [`AttestationNeed`]: for each requirement, a
//! statement of its predicate type about the image's digest, signed by its signer (a Sigstore
//! bundle checked as image signatures are, or a legacy `.att` envelope with a key), whose
//! every condition holds.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::need::{AttestationNeed, Required};
use crate::condition::{Bindings, Condition};
use crate::crypto::pem_key;
use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::sigstore::bundle::{Bundle, Content, ContentError, Envelope, dsse};
use crate::sigstore::certificate::CertIdentity;
use crate::sigstore::evaluate::{Ready, Who, sha256};
use crate::sigstore::memo;
use crate::sigstore::verify::verify as verify_bundle;
use crate::time::UnixTime;

/// A statement that met a requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The in-toto statement as signed (JSON).
    pub statement: Vec<u8>,
    pub predicate_type: String,
    /// The certificate's identity, for a keyless signer.
    pub identity: Option<CertIdentity>,
    /// Every verified signing time (none for a key without a log entry checked).
    pub signed_at: Vec<UnixTime>,
}

/// Where an attestation was read: a bundle (OCI referrer) or a layer of the `.att` tag.
#[derive(Clone, Copy)]
enum Source {
    Bundle,
    Envelope,
}

impl Source {
    fn label(self, n: usize) -> String {
        match self {
            Self::Bundle => format!("bundle {n}"),
            Self::Envelope => format!(".att layer {n}"),
        }
    }
}

/// The digest, when every requirement of `need` is met by one of `bundles` (Sigstore bundles
/// of the digest's referrers) or `envelopes` (DSSE envelopes of its `.att` tag); otherwise
/// every reason.
pub fn evaluate(
    need: &AttestationNeed,
    image: &ImageRef,
    digest: &Digest,
    bundles: &[Vec<u8>],
    envelopes: &[Vec<u8>],
    now: UnixTime,
) -> Result<Digest, Reason> {
    let Some(sha256) = sha256(digest) else {
        return Err(Reason::refused(format!(
            "{image}: attestations are about SHA-256 digests, not {digest}"
        )));
    };
    let failures = need.requirements.iter().filter_map(|required| {
        holds(required, image, digest, &sha256, bundles, envelopes, now).err()
    });
    match Reason::join(failures) {
        None => Ok(digest.clone()),
        Some(reason) => Err(reason),
    }
}

/// Whether every requirement has a statement remembered as passing (see
/// [`crate::sigstore::memo`]): then [`evaluate`] costs hashing only.
pub fn remembered(
    need: &AttestationNeed,
    digest: &Digest,
    bundles: &[Vec<u8>],
    envelopes: &[Vec<u8>],
) -> bool {
    let Some(sha256) = sha256(digest) else {
        return false;
    };
    need.requirements.iter().all(|required| {
        Memo::of(required, &sha256)
            .keys(bundles, envelopes)
            .any(|(_, _, key)| memo::known(&key))
    })
}

/// Every statement among `bundles` and `envelopes` that meets `required` for the artifact
/// whose SHA-256 digest is `sha256`, or every reason none does (one per attestation read).
pub fn verify(
    required: &Required,
    sha256: &[u8; 32],
    bundles: &[Vec<u8>],
    envelopes: &[Vec<u8>],
    now: UnixTime,
) -> Result<Vec<Attested>, Vec<String>> {
    let ready = Ready::load(&required.signer).map_err(|r| alloc::vec![r.text])?;
    let mut attested = Vec::new();
    let mut reasons = Vec::new();
    for (source, n, bytes) in sources(bundles, envelopes) {
        match judge(required, &ready, source, bytes, sha256, now) {
            Some(Ok(statement)) => attested.push(statement),
            Some(Err(why)) => reasons.push(format!("{}: {why}", source.label(n))),
            None => {}
        }
    }
    if attested.is_empty() {
        if reasons.is_empty() {
            reasons.push(format!(
                "no attestation of type {:?} was found",
                required.predicate_type
            ));
        }
        return Err(reasons);
    }
    Ok(attested)
}

/// One requirement: met by the first statement that passes (or that passed before).
fn holds(
    required: &Required,
    image: &ImageRef,
    digest: &Digest,
    sha256: &[u8; 32],
    bundles: &[Vec<u8>],
    envelopes: &[Vec<u8>],
    now: UnixTime,
) -> Result<(), Reason> {
    let memo_keys: Vec<_> = Memo::of(required, sha256)
        .keys(bundles, envelopes)
        .collect();
    if memo_keys.iter().any(|(_, _, key)| memo::known(key)) {
        return Ok(());
    }
    let ready = Ready::load(&required.signer)?;
    let mut reasons = Vec::new();
    for ((source, n, key), (_, _, bytes)) in memo_keys.into_iter().zip(sources(bundles, envelopes))
    {
        match judge(required, &ready, source, bytes, sha256, now) {
            Some(Ok(_)) => {
                memo::remember(key);
                return Ok(());
            }
            Some(Err(why)) => reasons.push(format!("{}: {why}", source.label(n))),
            None => {}
        }
    }
    let who = Who::of(&required.signer).name;
    Err(Reason::refused(if reasons.is_empty() {
        format!(
            "{image}: {}: no attestation of type {:?} signed by {who} was found for {digest}",
            required.name, required.predicate_type
        )
    } else {
        format!(
            "{image}: {}: no attestation signed by {who} passes: {}",
            required.name,
            reasons.join("; ")
        )
    }))
}

/// Each attestation read, numbered from 1 within its source.
fn sources<'a>(
    bundles: &'a [Vec<u8>],
    envelopes: &'a [Vec<u8>],
) -> impl Iterator<Item = (Source, usize, &'a [u8])> {
    let numbered = |source| move |(n, bytes): (usize, &'a Vec<u8>)| (source, n + 1, &bytes[..]);
    let bundles = bundles.iter().enumerate().map(numbered(Source::Bundle));
    bundles.chain(envelopes.iter().enumerate().map(numbered(Source::Envelope)))
}

/// One attestation judged: `None` when it is not of the required predicate type (another
/// attestation, or an image signature), else whether it meets the requirement.
fn judge(
    required: &Required,
    ready: &Ready<'_>,
    source: Source,
    bytes: &[u8],
    sha256: &[u8; 32],
    now: UnixTime,
) -> Option<Result<Attested, String>> {
    let signed = match source {
        Source::Bundle => bundle(required, ready, bytes, sha256, now),
        Source::Envelope => envelope(required, ready, bytes, sha256),
    }?;
    Some(signed.and_then(|attested| {
        conditions(&required.conditions, &attested.statement).map(|()| attested)
    }))
}

/// A bundle's statement, when it is of the required type and verifies for the signer.
fn bundle(
    required: &Required,
    ready: &Ready<'_>,
    bytes: &[u8],
    sha256: &[u8; 32],
    now: UnixTime,
) -> Option<Result<Attested, String>> {
    let bundle = match Bundle::parse(bytes) {
        Ok(bundle) => bundle,
        Err(e) => return Some(Err(e.to_string())),
    };
    let Content::Dsse(envelope) = &bundle.content else {
        return None; // a message signature: an image signature, not an attestation
    };
    let predicate_type = of_type(required, &envelope.payload)?;
    Some(
        verify_bundle(&bundle, sha256, ready.expect(), ready.root.as_ref(), now)
            .map(|verified| Attested {
                statement: envelope.payload.clone(),
                predicate_type,
                identity: verified.identity,
                signed_at: verified.signed_at,
            })
            .map_err(|e| e.to_string()),
    )
}

/// A legacy `.att` envelope's statement, when it is of the required type and its signature
/// verifies with the signer's key. cosign's keyless `.att` layers (a certificate and a Rekor
/// promise in annotations) are not read, as keyless `.sig` signatures are not.
fn envelope(
    required: &Required,
    ready: &Ready<'_>,
    bytes: &[u8],
    sha256: &[u8; 32],
) -> Option<Result<Attested, String>> {
    let envelope = match Envelope::parse(bytes) {
        Ok(envelope) => envelope,
        Err(e) => return Some(Err(format!("the layer is not a DSSE envelope: {e}"))),
    };
    let predicate_type = of_type(required, &envelope.payload)?;
    let Some(pem) = ready.key() else {
        return Some(Err(
            "keyless attestations are read from Sigstore bundles, not .att tags".into(),
        ));
    };
    let checked = pem_key(pem)
        .map_err(|e| format!("the signer's key: {e}"))
        .and_then(|(_, key)| {
            envelope
                .check(sha256, &key.verifier)
                .map_err(envelope_error)
        });
    Some(checked.map(|()| Attested {
        statement: envelope.payload,
        predicate_type,
        identity: None,
        signed_at: Vec::new(),
    }))
}

/// A layer's check failure, in the words of a layer rather than a bundle.
fn envelope_error(error: ContentError) -> String {
    match error {
        ContentError::Signature => "the envelope's signature does not verify with the key".into(),
        other => other.to_string(),
    }
}

/// The statement's predicate type, when it is the required one.
fn of_type(required: &Required, payload: &[u8]) -> Option<String> {
    dsse::predicate_type(payload).filter(|found| *found == required.predicate_type)
}

/// Every condition holds over the statement, or the first that does not, named.
fn conditions(conditions: &[Condition], statement: &[u8]) -> Result<(), String> {
    if conditions.is_empty() {
        return Ok(());
    }
    let value: serde_json::Value =
        serde_json::from_slice(statement).map_err(|e| format!("the statement is not JSON: {e}"))?;
    let bindings = Bindings::new(&value);
    for (n, condition) in conditions.iter().enumerate() {
        let n = n + 1;
        let source = condition.source();
        match condition.check(&bindings) {
            Ok(true) => {}
            Ok(false) => return Err(format!("condition {n} is false: {source}")),
            Err(e) => return Err(format!("condition {n} failed ({e}): {source}")),
        }
    }
    Ok(())
}

/// The memo's keys of one requirement: the signer's inputs, the predicate type and the
/// conditions' sources, with the digest and each attestation's bytes.
struct Memo {
    requirement: [u8; 32],
}

impl Memo {
    fn of(required: &Required, sha256: &[u8; 32]) -> Self {
        let mut key = memo::new_key();
        key.part(b"attestation")
            .part(&Who::of(&required.signer).identity)
            .part(required.predicate_type.as_bytes())
            .part(sha256);
        for condition in &required.conditions {
            key.part(condition.source().as_bytes());
        }
        Self {
            requirement: key.finish(),
        }
    }

    fn keys<'a>(
        &'a self,
        bundles: &'a [Vec<u8>],
        envelopes: &'a [Vec<u8>],
    ) -> impl Iterator<Item = (Source, usize, [u8; 32])> + 'a {
        sources(bundles, envelopes).map(|(source, n, bytes)| {
            let tag: &[u8] = match source {
                Source::Bundle => b"bundle",
                Source::Envelope => b"envelope",
            };
            (source, n, memo::key(&[&self.requirement, tag, bytes]))
        })
    }
}

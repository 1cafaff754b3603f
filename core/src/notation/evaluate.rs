//! Judging an image's Notation signatures under the trust policy statement for its
//! repository, in the order of the Notary Project's verification steps: integrity (always
//! enforced), authenticity, expiry, authentic timestamp, revocation, each enforced, logged or
//! skipped as the statement says. The first signature that passes admits.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;

use der::Decode as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use super::envelope::{Descriptor, Envelope, SigningScheme};
use super::identity::DistinguishedName;
use super::need::{NotationNeed, TrustStore};
use super::revocation::{self, Crls};
use super::trust_policy::{Action, Actions, Statement, StoreKind, StoreRef};
use super::{Signature, chain, timestamp};
use crate::crypto::certificate::Cert;
use crate::crypto::memo_key::MemoKey;
use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::time::{Rfc3339, UnixTime};

mod memo;

/// What admitted an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The trust policy statement that applied.
    pub statement: String,
    /// The signing certificate's subject, when a signature was checked (`skip` checks none).
    pub signer: Option<String>,
    /// The failures of validations the statement only logs.
    pub logged: Vec<String>,
}

/// Judges `signatures` of the image's manifest, whose descriptor is `target` ([`descriptor`]),
/// at `now`. A signature that passed before, under the same statement and stores, for the same
/// descriptor, and whose verdict still holds at `now` ([`memo`]), admits again without
/// a signature check; a signature that passes is remembered.
pub fn evaluate(
    need: &NotationNeed,
    image: &ImageRef,
    target: &Descriptor,
    signatures: &[Signature],
    now: UnixTime,
) -> Result<Verified, Reason> {
    judge(need, image, target, signatures, now, true)
}

/// [`evaluate`] without the memo: every signature judged afresh, none remembered.
pub fn evaluate_afresh(
    need: &NotationNeed,
    image: &ImageRef,
    target: &Descriptor,
    signatures: &[Signature],
    now: UnixTime,
) -> Result<Verified, Reason> {
    judge(need, image, target, signatures, now, false)
}

/// Whether [`evaluate`] would cost no signature check: a verdict of one of `signatures` is
/// remembered for `now`, or the statement checks nothing, or the need fails before any check.
pub fn remembered(
    need: &NotationNeed,
    image: &ImageRef,
    target: &Descriptor,
    signatures: &[Signature],
    now: UnixTime,
) -> bool {
    let repository = format!("{}/{}", image.domain(), image.path());
    let Some(statement) = need.trust_policy.select(&repository) else {
        return true;
    };
    if statement.actions.is_none() || signatures.is_empty() {
        return true;
    }
    let Ok(stores) = Stores::of(statement, &need.stores) else {
        return true;
    };
    let shared = shared_key(statement, &stores, target);
    signatures
        .iter()
        .any(|s| memo::known(&signature_key(&shared, s), now))
}

fn judge(
    need: &NotationNeed,
    image: &ImageRef,
    target: &Descriptor,
    signatures: &[Signature],
    now: UnixTime,
    memoized: bool,
) -> Result<Verified, Reason> {
    let digest = &target.digest;
    let repository = format!("{}/{}", image.domain(), image.path());
    let statement = need.trust_policy.select(&repository).ok_or_else(|| {
        Reason::refused(format!(
            "notation: no statement of the trust policy applies to {repository}"
        ))
    })?;
    let Some(actions) = statement.actions else {
        return Ok(Verified {
            statement: statement.name.clone(),
            signer: None,
            logged: Vec::new(),
        });
    };
    let stores = Stores::of(statement, &need.stores).map_err(Reason::policy)?;
    if signatures.is_empty() {
        return Err(Reason::refused(format!(
            "notation: {}@{digest} has no Notary Project signature",
            image.name()
        )));
    }
    let keys: Vec<[u8; 32]> = if memoized {
        let shared = shared_key(statement, &stores, target);
        signatures
            .iter()
            .map(|s| signature_key(&shared, s))
            .collect()
    } else {
        Vec::new()
    };
    if let Some(verified) = keys.iter().find_map(|key| memo::recall(key, now)) {
        return Ok(verified);
    }
    let crls = Crls::parse(&stores.crls())
        .map_err(|e| Reason::policy(format!("notation: a CRL of the trust stores: {e}")))?;
    let judge = Judge {
        statement,
        crls: &crls,
        crl_changes: crls.changes(),
        actions,
        stores: &stores,
        target,
        now,
    };
    let mut failures = Vec::new();
    for (n, signature) in signatures.iter().enumerate() {
        match judge.one(signature) {
            Ok((verified, until)) => {
                if let Some(key) = keys.get(n) {
                    memo::remember(*key, now, until, verified.clone());
                }
                return Ok(verified);
            }
            Err(why) => failures.push(format!("signature {}: {why}", n + 1)),
        }
    }
    Err(Reason::refused(format!(
        "notation: no signature of {}@{digest} passes the trust policy statement \"{}\": {}",
        image.name(),
        statement.name,
        failures.join("; ")
    )))
}

/// The memo's key up to the signature: the statement (every field, as its `Debug` spells
/// them), each store it names with every certificate and CRL, and the descriptor compared with
/// the signed one.
fn shared_key(statement: &Statement, stores: &Stores<'_>, target: &Descriptor) -> MemoKey {
    let mut key = memo::new_key();
    key.part(format!("{statement:?}").as_bytes());
    for kind in [StoreKind::Ca, StoreKind::SigningAuthority, StoreKind::Tsa] {
        let named = stores.of_kind(kind);
        key.part(kind.as_str().as_bytes()).count(named.len());
        for (name, store) in named {
            key.part(name.name.as_bytes());
            key.count(store.certificates.len());
            for certificate in &store.certificates {
                key.part(certificate);
            }
            key.count(store.crls.len());
            for crl in &store.crls {
                key.part(crl);
            }
        }
    }
    key.part(target.digest.as_bytes())
        .part(target.media_type.as_bytes())
        .part(&target.size.to_be_bytes());
    key
}

fn signature_key(shared: &MemoKey, signature: &Signature) -> [u8; 32] {
    let mut key = shared.clone();
    key.part(signature.media_type.as_bytes())
        .part(&signature.envelope);
    key.finish()
}

/// The certificates and CRLs of the statement's trust stores, by kind.
struct Stores<'a> {
    by_kind: BTreeMap<StoreKind, Vec<(&'a StoreRef, &'a TrustStore)>>,
}

impl<'a> Stores<'a> {
    /// Every store the statement names must be given with the policy.
    fn of(
        statement: &'a Statement,
        given: &'a BTreeMap<StoreRef, TrustStore>,
    ) -> Result<Self, String> {
        let mut by_kind: BTreeMap<StoreKind, Vec<_>> = BTreeMap::new();
        for named in &statement.stores {
            let store = given.get(named).ok_or_else(|| {
                format!(
                    "notation: the trust policy statement \"{}\" uses the trust store {named}, \
                     which the policy's notation.trustStores does not give",
                    statement.name
                )
            })?;
            by_kind.entry(named.kind).or_default().push((named, store));
        }
        Ok(Self { by_kind })
    }

    fn of_kind(&self, kind: StoreKind) -> &[(&'a StoreRef, &'a TrustStore)] {
        self.by_kind.get(&kind).map_or(&[], Vec::as_slice)
    }

    fn certificates(&self, kind: StoreKind) -> Vec<Vec<u8>> {
        let stores = self.of_kind(kind).iter();
        stores.flat_map(|(_, s)| s.certificates.clone()).collect()
    }

    /// Every CRL given with the statement's stores.
    fn crls(&self) -> Vec<Vec<u8>> {
        let stores = self.by_kind.values().flatten();
        stores.flat_map(|(_, s)| s.crls.clone()).collect()
    }

    fn names(&self, kind: StoreKind) -> String {
        let names: Vec<String> = self
            .of_kind(kind)
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        names.join(", ")
    }
}

/// One statement applied to one image's signatures.
struct Judge<'a> {
    statement: &'a Statement,
    crls: &'a Crls,
    /// Every CRL's thisUpdate and the second after its nextUpdate: where its use can change.
    crl_changes: Vec<UnixTime>,
    actions: Actions,
    stores: &'a Stores<'a>,
    target: &'a Descriptor,
    now: UnixTime,
}

impl Judge<'_> {
    /// The verdict, and when it stops holding ([`memo::until`]).
    fn one(&self, signature: &Signature) -> Result<(Verified, UnixTime), String> {
        // Integrity, always enforced: the envelope's signature with its leaf's key, and the
        // chain under Notary's code-signing rules (notation-go checks both as integrity).
        let envelope = Envelope::open(&signature.media_type, &signature.envelope)
            .map_err(|e| format!("integrity: {e}"))?;
        chain::check_code_signing(&envelope.chain, None)
            .map_err(|e| format!("integrity: the certificate chain: {e}"))?;
        let signed = &envelope.target;
        let target = self.target;
        if (&signed.digest, &signed.media_type, signed.size)
            != (&target.digest, &target.media_type, target.size)
        {
            return Err(format!(
                "it signs {} ({}, {} bytes), not this image's manifest {} ({}, {} bytes)",
                envelope.target.digest,
                envelope.target.media_type,
                envelope.target.size,
                self.target.digest,
                self.target.media_type,
                self.target.size
            ));
        }
        let (subject, identity) = signer(&envelope)?;
        let mut logged = Vec::new();
        let mut apply = |action: Action, result: Result<(), String>| match (action, result) {
            (Action::Enforce, Err(why)) => Err(why),
            (Action::Log, Err(why)) => {
                logged.push(why);
                Ok(())
            }
            _ => Ok(()),
        };
        let authentic = self.authentic(&envelope, &subject, &identity);
        apply(self.actions.authenticity, authentic)?;
        apply(self.actions.expiry, self.unexpired(&envelope))?;
        let timed = self.authentic_time(&envelope);
        let tsa_chain = timed.as_ref().ok().cloned().flatten();
        apply(self.actions.authentic_timestamp, timed.map(|_| ()))?;
        let chains = [
            envelope.chain.as_slice(),
            tsa_chain.as_deref().unwrap_or(&[]),
        ];
        let until = self.until(chains.concat().iter(), envelope.expiry);
        if self.actions.revocation != Action::Skip {
            apply(
                self.actions.revocation,
                self.unrevoked(&envelope, tsa_chain),
            )?;
        }
        let verified = Verified {
            statement: self.statement.name.clone(),
            signer: Some(subject),
            logged,
        };
        Ok((verified, until))
    }

    /// The end of the window in which a verdict reached at `now` holds ([`memo::until`]): the
    /// first change after `now` among the signature's expiry, the validity of the chains'
    /// certificates and the CRLs' updates. A certificate that does not parse failed the
    /// checks already; it leaves an empty window, to be safe.
    fn until<'c>(
        &self,
        certificates: impl Iterator<Item = &'c Vec<u8>>,
        expiry: Option<UnixTime>,
    ) -> UnixTime {
        let mut changes = self.crl_changes.clone();
        changes.extend(expiry);
        for der in certificates {
            let Some(cert) = Cert::parse(der) else {
                return self.now;
            };
            changes.extend([cert.not_before(), memo::after(cert.not_after())]);
        }
        memo::until(self.now, changes)
    }

    /// The chain is a code-signing chain to a certificate of a store of the scheme's kind,
    /// and the leaf's subject is a trusted identity.
    fn authentic(
        &self,
        envelope: &Envelope,
        subject: &str,
        identity: &DistinguishedName,
    ) -> Result<(), String> {
        let kind = match envelope.scheme {
            SigningScheme::X509 => StoreKind::Ca,
            SigningScheme::SigningAuthority => StoreKind::SigningAuthority,
        };
        let store = self.stores.certificates(kind);
        if chain::trusted(&envelope.chain, &store).is_none() {
            return Err(format!(
                "authenticity: the certificate chain does not lead to a certificate of the \
                 trust stores of type {} of statement \"{}\" ({})",
                kind.as_str(),
                self.statement.name,
                self.stores.names(kind)
            ));
        }
        let Some(identities) = &self.statement.identities else {
            return Ok(());
        };
        if identities.iter().any(|i| i.is_subset_of(identity)) {
            Ok(())
        } else {
            Err(format!(
                "authenticity: the signer \"{subject}\" is not a trusted identity of statement \
                 \"{}\"",
                self.statement.name
            ))
        }
    }

    fn unexpired(&self, envelope: &Envelope) -> Result<(), String> {
        match envelope.expiry {
            Some(expiry) if self.now >= expiry => Err(format!(
                "expiry: the signature expired at {}",
                Rfc3339(expiry)
            )),
            _ => Ok(()),
        }
    }

    /// The signing chain, and the timestamp authority's chain when a timestamp was verified,
    /// are not revoked by the CRLs given. Only a signing authority's signing time is authentic
    /// enough to excuse a revocation after it (notation-go's rule). The timestamp authority's
    /// chain is checked here, not as part of the timestamp (where the specification puts it):
    /// notation fetches its CRLs, portieris never does, so `revocation: skip` must reach it.
    fn unrevoked(
        &self,
        envelope: &Envelope,
        tsa_chain: Option<Vec<Vec<u8>>>,
    ) -> Result<(), String> {
        let signed_at =
            (envelope.scheme == SigningScheme::SigningAuthority).then_some(envelope.signing_time);
        revocation::check(&envelope.chain, self.crls, self.now, signed_at)
            .map_err(|e| format!("revocation: {e}"))?;
        match tsa_chain {
            Some(chain) => revocation::check(&chain, self.crls, self.now, None)
                .map_err(|e| format!("revocation: the timestamp authority: {e}")),
            None => Ok(()),
        }
    }

    /// The chain was valid when the signature was made: over a trusted timestamp's range, at
    /// the authentic signing time of a signing authority, or else now. The timestamp
    /// authority's chain when a timestamp was verified.
    fn authentic_time(&self, envelope: &Envelope) -> Result<Option<Vec<Vec<u8>>>, String> {
        let within = |at| {
            chain::check_valid_over(&envelope.chain, at, at)
                .map_err(|e| format!("authentic timestamp: {e}"))
        };
        if envelope.scheme == SigningScheme::SigningAuthority {
            return within(envelope.signing_time).map(|()| None);
        }
        let tsa = self.stores.certificates(StoreKind::Tsa);
        let expired = chain::check_valid_over(&envelope.chain, self.now, self.now).is_err();
        if tsa.is_empty() || (self.statement.timestamp_after_expiry && !expired) {
            return within(self.now).map(|()| None);
        }
        let token = envelope.timestamp.as_deref().ok_or_else(|| {
            "authentic timestamp: the signature has no timestamp countersignature".to_string()
        })?;
        let stamped = timestamp::verify(token, &envelope.signature, &tsa)
            .map_err(|e| format!("authentic timestamp: {e}"))?;
        chain::check_valid_over(&envelope.chain, stamped.earliest, stamped.latest)
            .map_err(|e| format!("authentic timestamp: {e}"))?;
        Ok(Some(stamped.chain))
    }
}

/// The signing certificate's subject: as text for messages, and as a DN for identities.
fn signer(envelope: &Envelope) -> Result<(String, DistinguishedName), String> {
    let der = envelope
        .chain
        .first()
        .ok_or("the signature has no certificate")?;
    let certificate =
        Certificate::from_der(der).map_err(|_| "the signing certificate does not parse")?;
    let subject = &certificate.tbs_certificate.subject;
    Ok((subject.to_string(), DistinguishedName::of_subject(subject)))
}

#[derive(Deserialize)]
struct MediaType {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
}

/// The descriptor a signature of this manifest signs: its digest (the bytes served must be
/// it), media type and size.
///
/// # Errors
/// The bytes are not `digest`, or not JSON.
pub fn descriptor(digest: &Digest, manifest: &[u8]) -> Result<Descriptor, String> {
    let actual = Digest::from_sha256(&Sha256::digest(manifest).into());
    if actual != *digest {
        return Err(format!(
            "notation: the manifest served for {digest} is {actual}"
        ));
    }
    let read: MediaType = serde_json::from_slice(manifest)
        .map_err(|e| format!("notation: the manifest {digest} is not JSON: {e}"))?;
    // Without a mediaType field, what the registry would have said for its shape.
    let media_type = read.media_type.unwrap_or_else(|| {
        if read.manifests.is_some() {
            "application/vnd.oci.image.index.v1+json".into()
        } else {
            "application/vnd.oci.image.manifest.v1+json".into()
        }
    });
    Ok(Descriptor {
        media_type,
        digest: digest.to_string(),
        size: manifest.len() as u64,
        annotations: BTreeMap::new(),
    })
}

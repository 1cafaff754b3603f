//! One image's bundles judged against a [`SigstoreNeed`]: every signer met by some bundle that
//! signs the image's digest as an image signature.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::bundle::{Bundle, Content, dsse};
use super::identity::IdentityPolicy;
use super::memo;
use super::need::{KeylessSigner, RootSource, Signer, SigstoreNeed, identities};
use super::trusted_root::TrustedRoot;
use super::verify::{Expect, verify};
use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::time::UnixTime;

/// The in-toto predicate type `cosign sign` (3.x) signs an image with. Attestations (another
/// predicate about the same digest) are not signatures of it.
pub const IMAGE_SIGNATURE_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The digest, when every signer of `need` is met by one of `bundles`; otherwise every reason.
pub fn evaluate(
    need: &SigstoreNeed,
    image: &ImageRef,
    digest: &Digest,
    bundles: &[Vec<u8>],
    now: UnixTime,
) -> Result<Digest, Reason> {
    if bundles.is_empty() {
        return Err(Reason::refused(format!(
            "no Sigstore bundles found for {image} ({digest})"
        )));
    }
    let Some(sha256) = sha256(digest) else {
        return Err(Reason::refused(format!(
            "{image}: Sigstore bundles sign SHA-256 digests, not {digest}"
        )));
    };
    let failures = need
        .signers
        .iter()
        .filter_map(|signer| signer_holds(signer, image, &sha256, bundles, now).err());
    match Reason::join(failures) {
        None => Ok(digest.clone()),
        Some(reason) => Err(reason),
    }
}

/// A bundle that is an image signature: parsed, and a message signature or a DSSE statement
/// of cosign's signature predicate.
fn image_signature(bytes: &[u8]) -> Result<Bundle, String> {
    let bundle = Bundle::parse(bytes).map_err(|e| e.to_string())?;
    if let Content::Dsse(envelope) = &bundle.content {
        let predicate = dsse::predicate_type(&envelope.payload).unwrap_or_default();
        if predicate != IMAGE_SIGNATURE_PREDICATE {
            return Err(format!(
                "an attestation ({predicate:?}), not an image signature ({IMAGE_SIGNATURE_PREDICATE:?})"
            ));
        }
    }
    Ok(bundle)
}

/// One signer: met by the first bundle that verifies (or that verified before: see
/// [`memo`]), or every reason why not.
fn signer_holds(
    signer: &Signer,
    image: &ImageRef,
    sha256: &[u8; 32],
    bundles: &[Vec<u8>],
    now: UnixTime,
) -> Result<(), Reason> {
    let who = Who::of(signer);
    let keys = who.keys(sha256, bundles);
    if keys.iter().any(memo::known) {
        return Ok(());
    }
    let ready = Ready::load(signer)?;
    let mut reasons = Vec::new();
    for (n, (bytes, key)) in bundles.iter().zip(keys).enumerate() {
        let outcome = image_signature(bytes).and_then(|bundle| {
            verify(&bundle, sha256, ready.expect(), ready.root.as_ref(), now)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        match outcome {
            Ok(()) => {
                memo::remember(key);
                return Ok(());
            }
            Err(why) => reasons.push(format!("bundle {}: {why}", n + 1)),
        }
    }
    Err(Reason::refused(format!(
        "no Sigstore bundle of {image} is signed by {}: {}",
        who.name,
        reasons.join("; ")
    )))
}

/// A signer as messages name it, and as the memo tells it apart: a digest of every input of
/// its checks (the key PEM, or the root's bytes and each identity's fields).
pub(crate) struct Who {
    pub(crate) name: String,
    pub(crate) identity: [u8; 32],
}

impl Who {
    pub(crate) fn of(signer: &Signer) -> Self {
        let mut key = memo::new_key();
        let name = match signer {
            Signer::Key(pem) => {
                key.part(b"key").part(pem.public_key_pem.as_bytes());
                format!("the key in Secret \"{}\"", pem.key_secret)
            }
            Signer::Keyless(keyless) => {
                let (root, name) = root(&keyless.root);
                key.part(b"keyless").part(root);
                for identity in &keyless.identities {
                    let fields = [&identity.issuer, &identity.issuer_regexp];
                    let fields = fields
                        .into_iter()
                        .chain([&identity.subject, &identity.subject_regexp]);
                    for field in fields {
                        key.part(field.as_bytes());
                    }
                    for (name, value) in &identity.extensions {
                        key.part(name.as_bytes()).part(value.as_bytes());
                    }
                    key.part(b"end of identity");
                }
                format!("a keyless identity ({name})")
            }
        };
        Self {
            name,
            identity: key.finish(),
        }
    }

    /// The memo's key for each bundle of the image.
    fn keys(&self, sha256: &[u8; 32], bundles: &[Vec<u8>]) -> Vec<[u8; 32]> {
        bundles
            .iter()
            .map(|bytes| memo::key(&[&self.identity, sha256, bytes]))
            .collect()
    }
}

/// Whether every signer of `need` has a bundle among `bundles` remembered as verified for the
/// image: then [`evaluate`] costs hashing only, and a frontend need not move it off its
/// async workers.
pub fn remembered(need: &SigstoreNeed, digest: &Digest, bundles: &[Vec<u8>]) -> bool {
    let Some(sha256) = sha256(digest) else {
        return false;
    };
    need.signers.iter().all(|signer| {
        Who::of(signer)
            .keys(&sha256, bundles)
            .iter()
            .any(memo::known)
    })
}

/// The trusted root's bytes and its name in messages.
fn root(source: &RootSource) -> (&[u8], String) {
    match source {
        RootSource::Default { json: None } => {
            (super::PUBLIC_GOOD_ROOT, "Sigstore public-good root".into())
        }
        RootSource::Default { json: Some(json) } => {
            (json, "default trusted root (refreshed from TUF)".into())
        }
        RootSource::Secret { name, json } => (json, format!("trusted root Secret \"{name}\"")),
    }
}

/// A signer made ready to verify: its key checked, or its identities compiled and root read.
pub(crate) struct Ready<'a> {
    key: Option<&'a str>,
    identities: Vec<IdentityPolicy>,
    pub(crate) root: Option<TrustedRoot>,
}

impl<'a> Ready<'a> {
    pub(crate) fn load(signer: &'a Signer) -> Result<Self, Reason> {
        match signer {
            Signer::Key(key) => {
                usable_key(&key.public_key_pem).map_err(|e| {
                    Reason::policy(format!("cosign key Secret \"{}\": {e}", key.key_secret))
                })?;
                Ok(Self {
                    key: Some(&key.public_key_pem),
                    identities: Vec::new(),
                    root: None,
                })
            }
            Signer::Keyless(keyless) => Self::keyless(keyless),
        }
    }

    fn keyless(signer: &KeylessSigner) -> Result<Self, Reason> {
        let identities = identities(&signer.identities).map_err(Reason::policy)?;
        let (json, name) = root(&signer.root);
        let root = TrustedRoot::parse(json).map_err(|e| Reason::policy(format!("{name}: {e}")))?;
        Ok(Self {
            key: None,
            identities,
            root: Some(root),
        })
    }

    /// The signer's key PEM, for a key signer.
    pub(crate) fn key(&self) -> Option<&'a str> {
        self.key
    }

    pub(crate) fn expect(&self) -> Expect<'_> {
        match self.key {
            Some(pem) => Expect::Key(pem),
            None => Expect::Keyless(&self.identities),
        }
    }
}

/// A `PUBLIC KEY` PEM (a certificate is refused: its validity would go unchecked), checked
/// once so that a bad key is the policy's error, not each bundle's.
fn usable_key(pem: &str) -> Result<(), String> {
    match crate::crypto::pem_key(pem) {
        Ok((_, key)) if key.cert.is_none() => Ok(()),
        Ok(_) => Err("a certificate, where a PUBLIC KEY PEM is expected".into()),
        Err(problem) => Err(format!("not a usable PEM public key: {problem}")),
    }
}

/// A `sha256:` digest's 32 bytes.
pub(crate) fn sha256(digest: &Digest) -> Option<[u8; 32]> {
    if digest.algorithm() != "sha256" {
        return None;
    }
    dsse::hex32(digest.hex())
}

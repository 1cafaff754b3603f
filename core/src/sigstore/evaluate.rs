//! One image's bundles judged against a [`SigstoreNeed`]: every signer met by some bundle that
//! signs the image's digest as an image signature.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::bundle::{Bundle, Content, dsse};
use super::identity::IdentityPolicy;
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
    let parsed: Vec<Result<Bundle, String>> =
        bundles.iter().map(|bytes| image_signature(bytes)).collect();
    let failures = need
        .signers
        .iter()
        .filter_map(|signer| signer_holds(signer, image, &sha256, &parsed, now).err());
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

/// One signer: met by the first bundle that verifies, or every reason why not.
fn signer_holds(
    signer: &Signer,
    image: &ImageRef,
    sha256: &[u8; 32],
    bundles: &[Result<Bundle, String>],
    now: UnixTime,
) -> Result<(), Reason> {
    let keyless;
    let (expect, root, who) = match signer {
        Signer::Key(key) => {
            usable_key(&key.public_key_pem).map_err(|e| {
                Reason::policy(format!("cosign key Secret \"{}\": {e}", key.key_secret))
            })?;
            let who = format!("the key in Secret \"{}\"", key.key_secret);
            (Expect::Key(&key.public_key_pem), None, who)
        }
        Signer::Keyless(signer) => {
            keyless = Keyless::load(signer)?;
            let who = format!("a keyless identity ({})", keyless.root_name);
            (
                Expect::Keyless(&keyless.identities),
                Some(&keyless.root),
                who,
            )
        }
    };
    let mut reasons = Vec::new();
    for (n, bundle) in bundles.iter().enumerate() {
        let outcome = bundle.as_ref().map_err(String::clone).and_then(|bundle| {
            verify(bundle, sha256, expect, root, now)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        match outcome {
            Ok(()) => return Ok(()),
            Err(why) => reasons.push(format!("bundle {}: {why}", n + 1)),
        }
    }
    Err(Reason::refused(format!(
        "no Sigstore bundle of {image} is signed by {who}: {}",
        reasons.join("; ")
    )))
}

/// A keyless signer made ready: its identities compiled, its root read.
struct Keyless {
    identities: Vec<IdentityPolicy>,
    root: TrustedRoot,
    root_name: String,
}

impl Keyless {
    fn load(signer: &KeylessSigner) -> Result<Self, Reason> {
        let identities = identities(&signer.identities).map_err(Reason::policy)?;
        let (json, root_name): (&[u8], String) = match &signer.root {
            RootSource::Default { json: None } => {
                (super::PUBLIC_GOOD_ROOT, "Sigstore public-good root".into())
            }
            RootSource::Default { json: Some(json) } => {
                (json, "default trusted root (refreshed from TUF)".into())
            }
            RootSource::Secret { name, json } => (json, format!("trusted root Secret \"{name}\"")),
        };
        let root =
            TrustedRoot::parse(json).map_err(|e| Reason::policy(format!("{root_name}: {e}")))?;
        Ok(Self {
            identities,
            root,
            root_name,
        })
    }
}

/// A `sha256:` digest's 32 bytes.
fn sha256(digest: &Digest) -> Option<[u8; 32]> {
    if digest.algorithm() != "sha256" {
        return None;
    }
    dsse::hex32(digest.hex())
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

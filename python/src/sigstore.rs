//! Sigstore bundles: `portieris.sigstore.verify_bundle` over one bundle the caller fetched.
//! The core's [`sigstore::verify`], as a policy's `cosign.format: bundle` requirement and
//! `portieris sigstore verify-bundle` call it: keyless identities are compiled by
//! [`need::identities`], so they are read as a policy's `keyless.identities` are.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use portieris_core::limits::MAX_IDENTITIES;
use portieris_core::policy::KeylessIdentity;
use portieris_core::sigstore::bundle::Bundle;
use portieris_core::sigstore::identity::{CertIdentity, SubjectKind};
use portieris_core::sigstore::{self, Expect, PUBLIC_GOOD_ROOT, TrustedRoot, VerifyError, need};
use portieris_core::time::UnixTime;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{Kind, error};
use crate::reference;

/// A bundle that verified: when it was signed and, keyless, by whom.
#[pyclass(frozen, module = "portieris.sigstore", name = "Verified")]
pub(crate) struct PySigstoreVerified {
    /// Every verified signing time, Unix seconds: the log entries' integrated times and the
    /// RFC 3161 timestamps (empty for a key bundle checked without a trusted root).
    #[pyo3(get)]
    signed_at: Vec<u64>,
    /// The certificate's identity; `None` for a key bundle.
    #[pyo3(get)]
    identity: Option<Py<PySigstoreIdentity>>,
}

#[pymethods]
impl PySigstoreVerified {
    fn __repr__(&self) -> String {
        let identity = self
            .identity
            .as_ref()
            .map_or_else(|| "None".to_string(), |id| id.get().repr());
        format!(
            "Verified(signed_at={:?}, identity={identity})",
            self.signed_at
        )
    }
}

/// The identity in a Fulcio certificate.
#[pyclass(frozen, module = "portieris.sigstore", name = "Identity")]
pub(crate) struct PySigstoreIdentity {
    /// The subject alternative name: an email, a URI (a CI workflow) or a username.
    #[pyo3(get)]
    subject: String,
    /// `"email"`, `"uri"` or `"username"`.
    #[pyo3(get)]
    subject_kind: &'static str,
    /// The OIDC issuer (`None` if the certificate names none).
    #[pyo3(get)]
    issuer: Option<String>,
    extensions: BTreeMap<String, String>,
}

impl PySigstoreIdentity {
    pub(crate) fn new(identity: CertIdentity) -> Self {
        Self {
            subject: identity.subject,
            subject_kind: match identity.subject_kind {
                SubjectKind::Email => "email",
                SubjectKind::Uri => "uri",
                SubjectKind::Username => "username",
            },
            issuer: identity.issuer,
            extensions: identity
                .extensions
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        }
    }

    fn repr(&self) -> String {
        format!(
            "Identity(subject='{}', issuer={})",
            self.subject,
            self.issuer
                .as_ref()
                .map_or_else(|| "None".to_string(), |i| format!("'{i}'"))
        )
    }
}

#[pymethods]
impl PySigstoreIdentity {
    /// Fulcio's other extensions present, by name (`sourceRepositoryURI`, …): a new dict on
    /// each access, so changing it changes nothing verified.
    #[getter]
    fn extensions(&self) -> BTreeMap<String, String> {
        self.extensions.clone()
    }

    fn __repr__(&self) -> String {
        self.repr()
    }
}

/// Why a bundle was refused, and which exception says so.
pub(crate) struct Failure(pub(crate) Kind, pub(crate) String);

/// Who must have signed, before it is compiled.
pub(crate) enum Signer {
    Key(String),
    Keyless(String),
}

impl Signer {
    /// `identities` (keyless) or `key`: exactly one.
    pub(crate) fn given(
        identities: Option<String>,
        key: Option<String>,
    ) -> Result<Self, &'static str> {
        match (identities, key) {
            (Some(identities), None) => Ok(Self::Keyless(identities)),
            (None, Some(key)) => Ok(Self::Key(key)),
            (None, None) => {
                Err("give identities (keyless) or key; with neither, any signer would do")
            }
            (Some(_), Some(_)) => Err("give identities (keyless) or key, not both"),
        }
    }
}

/// The 32 bytes of a `sha256:` digest argument.
pub(crate) fn artifact(py: Python<'_>, digest: &str) -> PyResult<[u8; 32]> {
    let digest = reference::parse_digest(py, digest)?;
    sha256_bytes(digest.hex())
        .ok_or_else(|| error(py, Kind::Reference, format!("\"{digest}\": not a SHA-256")))
}

/// Verifies one Sigstore bundle; see `portieris.sigstore.verify_bundle`. `identities` is the
/// JSON of the identity dicts (`portieris.sigstore` writes it), `key` a PEM public key: exactly
/// one of them.
#[pyfunction]
#[pyo3(signature = (bundle, digest, trusted_root, identities, key, now))]
pub(crate) fn sigstore_verify_bundle(
    py: Python<'_>,
    bundle: &Bound<'_, PyBytes>,
    digest: &str,
    trusted_root: Option<Bound<'_, PyBytes>>,
    identities: Option<String>,
    key: Option<String>,
    now: u64,
) -> PyResult<PySigstoreVerified> {
    let artifact = artifact(py, digest)?;
    let signer = Signer::given(identities, key)
        .map_err(|message| error(py, Kind::Policy, format!("sigstore: {message}")))?;
    let bundle = bundle.as_bytes().to_vec();
    let root = trusted_root.map(|root| root.as_bytes().to_vec());
    let outcome =
        py.allow_threads(move || check(&bundle, &artifact, root.as_deref(), &signer, now));
    let verified = outcome.map_err(|Failure(kind, message)| error(py, kind, message))?;
    let identity = verified
        .identity
        .map(|identity| Py::new(py, PySigstoreIdentity::new(identity)))
        .transpose()?;
    Ok(PySigstoreVerified {
        signed_at: verified.signed_at.into_iter().map(|at| at.0).collect(),
        identity,
    })
}

/// The 32 bytes of a SHA-256 digest's 64 hex digits.
pub(crate) fn sha256_bytes(hex: &str) -> Option<[u8; 32]> {
    let mut bytes = [0; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// The identity dicts' JSON (as `portieris.sigstore` writes it), read as a policy's
/// `keyless.identities`: at least one, at most [`MAX_IDENTITIES`].
pub(crate) fn written_identities(json: &str) -> Result<Vec<KeylessIdentity>, Failure> {
    let policy = |message: String| Failure(Kind::Policy, message);
    let written: Vec<KeylessIdentity> =
        serde_json::from_str(json).map_err(|e| policy(format!("identities: {e}")))?;
    if written.is_empty() {
        return Err(policy(
            "identities: an empty list, which no signer can meet".into(),
        ));
    }
    if written.len() > MAX_IDENTITIES {
        return Err(policy(format!(
            "identities: {} of them, more than {MAX_IDENTITIES}",
            written.len()
        )));
    }
    Ok(written)
}

/// The public-good root, read once.
fn public_good() -> Result<&'static TrustedRoot, Failure> {
    static ROOT: OnceLock<Result<TrustedRoot, String>> = OnceLock::new();
    ROOT.get_or_init(|| TrustedRoot::parse(PUBLIC_GOOD_ROOT).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Failure(Kind::Error, format!("the public-good trusted root: {e}")))
}

fn check(
    bundle: &[u8],
    artifact: &[u8; 32],
    root: Option<&[u8]>,
    signer: &Signer,
    now: u64,
) -> Result<sigstore::Verified, Failure> {
    let policy = |message: String| Failure(Kind::Policy, message);
    let given = root
        .map(|json| TrustedRoot::parse(json).map_err(|e| policy(format!("trusted_root: {e}"))))
        .transpose()?;
    let compiled;
    let (expect, root) = match signer {
        Signer::Key(pem) => (Expect::Key(pem), given.as_ref()),
        Signer::Keyless(json) => {
            let written = written_identities(json)?;
            compiled = need::identities(&written).map_err(policy)?;
            let root = match &given {
                Some(root) => root,
                None => public_good()?,
            };
            (Expect::Keyless(&compiled), Some(root))
        }
    };
    // A bundle that does not parse is evidence that does not verify, as for the conformance
    // suite's malformed cases.
    let bundle = Bundle::parse(bundle)
        .map_err(|e| Failure(Kind::Verification, format!("the bundle: {e}")))?;
    sigstore::verify(&bundle, artifact, expect, root, UnixTime(now)).map_err(|e| {
        let kind = match e {
            VerifyError::Key(_) => Kind::Policy,
            _ => Kind::Verification,
        };
        Failure(kind, e.to_string())
    })
}

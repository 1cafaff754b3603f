//! Simple signing: `portieris.simple.verify` over one signature the caller fetched.

use portieris_core::ImageRef;
use portieris_core::policy::SignedIdentity;
use portieris_core::reference::Digest;
use portieris_core::simple::openpgp;
use portieris_core::simple::{IdentityRule, Payload};
use portieris_core::time::UnixTime;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{Kind, error};

/// A simple-signing payload whose signature verified.
#[pyclass(frozen, module = "portieris.simple", name = "Payload")]
pub(crate) struct PySimplePayload {
    /// `critical.identity.docker-reference`, normalised.
    #[pyo3(get)]
    reference: String,
    /// `critical.image.docker-manifest-digest`.
    #[pyo3(get)]
    digest: String,
    /// Fingerprint of the (sub)key that made the signature (upper-case hex).
    #[pyo3(get)]
    signer: String,
    payload: Vec<u8>,
}

#[pymethods]
impl PySimplePayload {
    /// The signed payload bytes (JSON, as containers/image wrote it).
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.payload)
    }

    fn __repr__(&self) -> String {
        format!(
            "Payload(reference='{}', digest='{}', signer='{}')",
            self.reference, self.digest, self.signer
        )
    }
}

/// Why a simple signature was refused, and which exception says so.
struct SimpleFailure(Kind, String);

/// Verifies one simple signature; see `portieris.simple.verify`.
#[pyfunction]
#[pyo3(signature = (signature, keyring, reference, digest, identity, now))]
pub(crate) fn simple_verify(
    py: Python<'_>,
    signature: &Bound<'_, PyBytes>,
    keyring: &Bound<'_, PyBytes>,
    reference: Option<String>,
    digest: Option<String>,
    identity: Option<String>,
    now: u64,
) -> PyResult<PySimplePayload> {
    let signature = signature.as_bytes().to_vec();
    let keyring = keyring.as_bytes().to_vec();
    let outcome = py.allow_threads(move || {
        check_simple(
            &signature,
            &keyring,
            reference.as_deref(),
            digest.as_deref(),
            identity.as_deref(),
            UnixTime(now),
        )
    });
    outcome.map_err(|SimpleFailure(kind, message)| error(py, kind, message))
}

fn check_simple(
    signature: &[u8],
    keyring: &[u8],
    reference: Option<&str>,
    digest: Option<&str>,
    identity: Option<&str>,
    now: UnixTime,
) -> Result<PySimplePayload, SimpleFailure> {
    let reference_error = |text: &str, e: &dyn std::fmt::Display| {
        SimpleFailure(Kind::Reference, format!("\"{text}\": {e}"))
    };
    let policy_error =
        |e: &dyn std::fmt::Display| SimpleFailure(Kind::Policy, format!("signedIdentity: {e}"));
    let refused = |message: String| SimpleFailure(Kind::Verification, message);

    let expected_digest = digest
        .map(|d| Digest::parse(d).map_err(|e| reference_error(d, &e)))
        .transpose()?;
    let image = reference
        .map(|r| ImageRef::parse(r).map_err(|e| reference_error(r, &e)))
        .transpose()?;
    let rule = match identity {
        Some(json) => {
            let identity: SignedIdentity =
                serde_json::from_str(json).map_err(|e| policy_error(&e))?;
            IdentityRule::from_policy(&identity).map_err(|e| policy_error(&e))?
        }
        None => IdentityRule::MatchRepoDigestOrExact,
    };
    let keyring = openpgp::Keyring::parse(keyring).map_err(|e| refused(e.to_string()))?;
    let verified = openpgp::verify(&keyring, signature, now).map_err(|e| refused(e.to_string()))?;
    let payload = Payload::parse(&verified.payload).map_err(|e| refused(e.to_string()))?;
    if let Some(expected) = &expected_digest
        && payload.digest != *expected
    {
        return Err(refused(format!(
            "signed by {} for digest {}, expected {expected}",
            verified.signer, payload.digest
        )));
    }
    if let Some(image) = &image {
        rule.check(image, &payload.identity)
            .map_err(|e| refused(format!("signed by {}: {e}", verified.signer)))?;
    }
    Ok(PySimplePayload {
        reference: payload.identity.to_string(),
        digest: payload.digest.to_string(),
        signer: verified.signer,
        payload: verified.payload,
    })
}

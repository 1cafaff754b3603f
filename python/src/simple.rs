//! Simple signing: `portieris.simple.verify` over one signature the caller fetched.

use portieris_core::ImageRef;
use portieris_core::policy::SignedIdentity;
use portieris_core::reference::Digest;
use portieris_core::simple::openpgp;
use portieris_core::simple::{IdentityRule, Payload};
use portieris_core::time::UnixTime;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyIterator};

use crate::errors::{Kind, error};

/// A simple-signing payload whose signature verified: its checked fields as attributes, and a
/// read-only mapping of the signed JSON (`payload["critical"]["image"]`). The JSON is read once,
/// by Python's `json.loads` (so numbers are Python's); every value handed out is a deep copy,
/// so nothing a caller does to it changes the payload.
#[pyclass(frozen, mapping, module = "portieris.simple", name = "Payload")]
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
    /// The payload, parsed.
    json: Py<PyDict>,
}

impl PySimplePayload {
    /// The Python object of what verified: its payload parsed by `json.loads`.
    fn new(py: Python<'_>, checked: Checked) -> PyResult<Self> {
        let parsed = py
            .import("json")?
            .call_method1("loads", (PyBytes::new(py, &checked.payload),))?;
        let json = parsed.downcast_into::<PyDict>().map_err(|_| {
            error(
                py,
                Kind::Verification,
                "the signed payload is not a JSON object",
            )
        })?;
        Ok(Self {
            reference: checked.reference,
            digest: checked.digest,
            signer: checked.signer,
            payload: checked.payload,
            json: json.unbind(),
        })
    }

    /// A `collections.abc` view (`KeysView`, `ValuesView`, `ItemsView`) of `payload`.
    fn view<'py>(payload: &Bound<'py, Self>, kind: &str) -> PyResult<Bound<'py, PyAny>> {
        let py = payload.py();
        py.import("collections.abc")?
            .getattr(kind)?
            .call1((payload,))
    }
}

/// A fresh copy of a value of the payload.
fn copied<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    value
        .py()
        .import("copy")?
        .call_method1("deepcopy", (value,))
}

#[pymethods]
impl PySimplePayload {
    /// The signed payload bytes (JSON, as containers/image wrote it).
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.payload)
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.json.bind(py).get_item(key)? {
            Some(value) => copied(&value),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.json.bind(py).len()
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.json.bind(py).contains(key)
    }

    /// The top-level keys, in the payload's order (`critical`, `optional`).
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        self.json.bind(py).keys().into_any().try_iter()
    }

    /// The value of `key` (a copy), or `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.json.bind(py).get_item(key)? {
            Some(value) => copied(&value),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, "KeysView")
    }

    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, "ValuesView")
    }

    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, "ItemsView")
    }

    fn __repr__(&self) -> String {
        format!(
            "Payload(reference='{}', digest='{}', signer='{}')",
            self.reference, self.digest, self.signer
        )
    }
}

/// What verified, before it is a Python object (built without the GIL).
struct Checked {
    reference: String,
    digest: String,
    signer: String,
    payload: Vec<u8>,
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
    let checked = outcome.map_err(|SimpleFailure(kind, message)| error(py, kind, message))?;
    PySimplePayload::new(py, checked)
}

fn check_simple(
    signature: &[u8],
    keyring: &[u8],
    reference: Option<&str>,
    digest: Option<&str>,
    identity: Option<&str>,
    now: UnixTime,
) -> Result<Checked, SimpleFailure> {
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
    Ok(Checked {
        reference: payload.identity.to_string(),
        digest: payload.digest.to_string(),
        signer: verified.signer,
        payload: verified.payload,
    })
}

//! Notation: `portieris.notation.verify` over an image's manifest and the signature envelopes
//! the caller fetched, under a Notary Project trust policy document and its trust stores. The
//! core's [`notation::evaluate`], as a policy's `notation` is judged.

use std::collections::BTreeMap;

use portieris_core::notation::trust_policy::{StoreKind, StoreRef, TrustPolicy};
use portieris_core::notation::{self, NotationNeed, Signature, TrustStore, Verified};
use portieris_core::reason::Reason;
use portieris_core::time::UnixTime;
use pyo3::prelude::*;

use crate::errors::{Kind, error, from_reason};

/// What admitted the image.
#[pyclass(frozen, module = "portieris.notation", name = "Verified")]
pub(crate) struct PyVerified {
    /// The trust policy statement that applied.
    #[pyo3(get)]
    statement: String,
    /// The signing certificate's subject; `None` under the `skip` level.
    #[pyo3(get)]
    signer: Option<String>,
    /// The failures of the validations the statement only logs.
    #[pyo3(get)]
    logged: Vec<String>,
}

#[pymethods]
impl PyVerified {
    fn __repr__(&self) -> String {
        format!(
            "Verified(statement={:?}, signer={:?}, logged={:?})",
            self.statement, self.signer, self.logged
        )
    }
}

/// Verifies Notation signatures; see `portieris.notation.verify`. `trust_stores` maps
/// `type:name` to the store's entries (file or Secret key name → PEM or DER).
#[pyfunction]
#[pyo3(signature = (image, manifest, signatures, trust_policy, trust_stores, now))]
pub(crate) fn notation_verify(
    py: Python<'_>,
    image: &str,
    manifest: Vec<u8>,
    signatures: Vec<(String, Vec<u8>)>,
    trust_policy: Vec<u8>,
    trust_stores: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    now: u64,
) -> PyResult<PyVerified> {
    let reference = crate::reference::parse(py, image)?;
    let digest = reference.digest().cloned().ok_or_else(|| {
        error(
            py,
            Kind::Reference,
            format!("\"{image}\" names no digest: give the manifest's, as name@sha256:<hex>"),
        )
    })?;
    let need = need(&trust_policy, &trust_stores).map_err(|m| error(py, Kind::Policy, m))?;
    let signatures: Vec<Signature> = signatures
        .into_iter()
        .map(|(media_type, envelope)| Signature {
            media_type,
            envelope,
        })
        .collect();
    let outcome = py.allow_threads(|| {
        let target = notation::descriptor(&digest, &manifest).map_err(Reason::refused)?;
        notation::evaluate(&need, &reference, &target, &signatures, UnixTime(now))
    });
    let Verified {
        statement,
        signer,
        logged,
    } = outcome.map_err(|reason| from_reason(py, reason))?;
    Ok(PyVerified {
        statement,
        signer,
        logged,
    })
}

/// The need a policy's `notation` with these Secrets would make.
fn need(
    trust_policy: &[u8],
    stores: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
) -> Result<NotationNeed, String> {
    let trust_policy = TrustPolicy::parse(trust_policy).map_err(|e| e.to_string())?;
    let mut read = BTreeMap::new();
    for (named, entries) in stores {
        let (kind, name) = named
            .split_once(':')
            .and_then(|(kind, name)| Some((StoreKind::parse(kind)?, name)))
            .ok_or_else(|| {
                format!("trust store \"{named}\" is not type:name (ca, signingAuthority or tsa)")
            })?;
        let entries = entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        let store =
            TrustStore::read(entries).map_err(|why| format!("trust store \"{named}\" {why}"))?;
        let name = name.to_string();
        read.insert(StoreRef { kind, name }, store);
    }
    Ok(NotationNeed {
        trust_policy: trust_policy.into(),
        stores: read,
    })
}

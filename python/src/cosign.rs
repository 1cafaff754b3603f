//! Key-based cosign: `portieris.cosign.verify` over the signature layers the caller fetched.
//! Verified as the webhook verifies them: through the core's evidence seam
//! ([`evidence::verify`] with a cosign [`Need`] and cosign [`Material`]), so a policy's
//! `cosign` requirement and this function cannot disagree.

use std::sync::Arc;

use portieris_core::ImageRef;
use portieris_core::cosign::{MAX_SIGNATURES, Signature, artifact};
use portieris_core::evidence::{self, CosignKey, CosignNeed, Material, Need};
use portieris_core::reference::Digest;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{Kind, error, from_reason};
use crate::reference;

/// An image whose cosign signatures held: every key signed its digest.
#[pyclass(frozen, module = "portieris.cosign", name = "Verified")]
pub(crate) struct PyCosignVerified {
    /// The image's manifest digest, `sha256:<hex>`, which every key signed.
    #[pyo3(get)]
    digest: String,
    /// The image pinned to it, `registry/repository@sha256:<hex>` (what the webhook admits).
    #[pyo3(get)]
    reference: String,
    /// The names of the keys, each of which signed it.
    #[pyo3(get)]
    keys: Vec<String>,
}

#[pymethods]
impl PyCosignVerified {
    fn __repr__(&self) -> String {
        format!(
            "Verified(digest='{}', reference='{}', keys={:?})",
            self.digest, self.reference, self.keys
        )
    }
}

/// Verifies cosign signatures of `reference`; see `portieris.cosign.verify`.
#[pyfunction]
#[pyo3(signature = (signatures, keys, reference, digest))]
pub(crate) fn cosign_verify(
    py: Python<'_>,
    signatures: Vec<(Bound<'_, PyBytes>, Option<String>)>,
    keys: Vec<(String, String)>,
    reference: &str,
    digest: Option<&str>,
) -> PyResult<PyCosignVerified> {
    let image = reference::parse(py, reference)?;
    let digest = manifest_digest(py, &image, reference, digest)?;
    if keys.is_empty() {
        // A need without keys would hold for any signature: refuse it as a policy would be.
        return Err(error(
            py,
            Kind::Policy,
            "cosign: no public key given; at least one must have signed",
        ));
    }
    if signatures.len() > MAX_SIGNATURES {
        return Err(error(
            py,
            Kind::Verification,
            format!(
                "cosign: {} signatures, more than the {MAX_SIGNATURES} accepted",
                signatures.len()
            ),
        ));
    }
    let names = keys.iter().map(|(name, _)| name.clone()).collect();
    let need = Need::Cosign(CosignNeed {
        keys: keys
            .into_iter()
            .map(|(key_secret, public_key_pem)| CosignKey {
                key_secret,
                public_key_pem,
            })
            .collect(),
        repository: None,
        remap: None,
    });
    let signatures: Arc<[Signature]> = signatures
        .into_iter()
        .map(|(payload, signature)| Signature {
            payload: payload.as_bytes().to_vec(),
            signature,
        })
        .collect();
    let gathered = Ok(Material::Cosign { digest, signatures });
    let now = portieris_webhook::clock::now();
    let outcome = py.allow_threads(|| evidence::verify(&need, &image, &gathered, now));
    let digest = outcome.map_err(|reason| from_reason(py, reason))?;
    Ok(PyCosignVerified {
        reference: image.pinned(digest),
        digest: digest.to_string(),
        keys: names,
    })
}

/// The digest to verify: `digest` if given, else the one `image` pins; both must agree.
fn manifest_digest(
    py: Python<'_>,
    image: &ImageRef,
    reference: &str,
    digest: Option<&str>,
) -> PyResult<Digest> {
    let pinned = image.digest();
    match digest.map(|d| reference::parse_digest(py, d)).transpose()? {
        Some(given) if pinned.is_some_and(|p| *p != given) => Err(error(
            py,
            Kind::Reference,
            format!("\"{reference}\" pins another digest than {given}"),
        )),
        Some(given) => Ok(given),
        None => pinned.cloned().ok_or_else(|| {
            error(
                py,
                Kind::Reference,
                format!("\"{reference}\" pins no digest: give the image's manifest digest"),
            )
        }),
    }
}

/// The layers of a cosign signature manifest: (payload blob digest, signature annotation).
#[pyfunction]
pub(crate) fn cosign_layers(
    py: Python<'_>,
    manifest: &Bound<'_, PyBytes>,
) -> PyResult<Vec<(String, Option<String>)>> {
    let layers = artifact::parse(manifest.as_bytes())
        .map_err(|e| error(py, Kind::Verification, format!("cosign: {e}")))?;
    Ok(layers
        .into_iter()
        .map(|layer| (layer.digest.to_string(), layer.signature))
        .collect())
}

//! Attestations: `portieris.attestations.verify` over the bundles and `.att` envelopes the
//! caller fetched. The core's [`attestation::verify`], with one requirement built as a
//! policy's `attestations` entry is: the predicate type resolved, the signer's identities
//! compiled, the conditions compiled with their positions.

use portieris_core::attestation::{self, Attested, Condition, Required, predicate};
use portieris_core::cosign::CosignKey;
use portieris_core::limits::MAX_CONDITIONS;
use portieris_core::sigstore::need::{KeylessSigner, RootSource, Signer as CoreSigner};
use portieris_core::time::UnixTime;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{Kind, error};
use crate::sigstore::{Failure, PySigstoreIdentity, Signer, artifact, written_identities};

/// A statement that met the requirement.
#[pyclass(frozen, module = "portieris.attestations", name = "Statement")]
pub(crate) struct PyStatement {
    /// The in-toto statement as signed (JSON bytes).
    #[pyo3(get)]
    statement: Py<PyBytes>,
    /// Its predicate type (a URI).
    #[pyo3(get)]
    predicate_type: String,
    /// The certificate's identity; `None` for a key.
    #[pyo3(get)]
    identity: Option<Py<PySigstoreIdentity>>,
    /// Every verified signing time, Unix seconds.
    #[pyo3(get)]
    signed_at: Vec<u64>,
}

#[pymethods]
impl PyStatement {
    fn __repr__(&self) -> String {
        format!(
            "Statement(predicate_type='{}', signed_at={:?})",
            self.predicate_type, self.signed_at
        )
    }
}

impl PyStatement {
    fn new(py: Python<'_>, attested: Attested) -> PyResult<Self> {
        Ok(Self {
            statement: PyBytes::new(py, &attested.statement).unbind(),
            predicate_type: attested.predicate_type,
            identity: attested
                .identity
                .map(|identity| Py::new(py, PySigstoreIdentity::new(identity)))
                .transpose()?,
            signed_at: attested.signed_at.into_iter().map(|at| at.0).collect(),
        })
    }
}

/// Verifies attestations; see `portieris.attestations.verify`.
#[pyfunction]
#[pyo3(signature = (digest, predicate_type, bundles, envelopes, trusted_root, identities, key, conditions, now))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attestations_verify(
    py: Python<'_>,
    digest: &str,
    predicate_type: &str,
    bundles: Vec<Vec<u8>>,
    envelopes: Vec<Vec<u8>>,
    trusted_root: Option<Vec<u8>>,
    identities: Option<String>,
    key: Option<String>,
    conditions: Vec<String>,
    now: u64,
) -> PyResult<Vec<PyStatement>> {
    let artifact = artifact(py, digest)?;
    let policy = |message: String| error(py, Kind::Policy, message);
    let signer =
        Signer::given(identities, key).map_err(|m| policy(format!("attestations: {m}")))?;
    let required = required(predicate_type, signer, trusted_root, &conditions)
        .map_err(|Failure(kind, message)| error(py, kind, message))?;
    let outcome = py.allow_threads(move || {
        attestation::verify(&required, &artifact, &bundles, &envelopes, UnixTime(now))
    });
    let attested = outcome.map_err(|reasons| {
        error(
            py,
            Kind::Verification,
            format!("no attestation passes: {}", reasons.join("; ")),
        )
    })?;
    attested
        .into_iter()
        .map(|a| PyStatement::new(py, a))
        .collect()
}

/// The requirement, as a policy entry with these fields would be.
fn required(
    predicate_type: &str,
    signer: Signer,
    trusted_root: Option<Vec<u8>>,
    conditions: &[String],
) -> Result<Required, Failure> {
    let policy = |message: String| Failure(Kind::Policy, message);
    let resolved = predicate::resolve(predicate_type).ok_or_else(|| {
        policy(format!(
            "predicate_type {predicate_type:?} is neither a URI nor a short name"
        ))
    })?;
    if conditions.len() > MAX_CONDITIONS {
        return Err(policy(format!(
            "{} conditions, more than {MAX_CONDITIONS}",
            conditions.len()
        )));
    }
    let conditions = conditions
        .iter()
        .enumerate()
        .map(|(n, source)| {
            Condition::compile(source).map_err(|e| policy(format!("condition {}: {e}", n + 1)))
        })
        .collect::<Result<_, _>>()?;
    let signer = match signer {
        Signer::Key(pem) => CoreSigner::Key(CosignKey {
            key_secret: "key argument".into(),
            public_key_pem: pem,
        }),
        Signer::Keyless(json) => CoreSigner::Keyless(KeylessSigner {
            identities: written_identities(&json)?,
            root: match trusted_root {
                Some(json) => RootSource::Secret {
                    name: "trusted_root argument".into(),
                    json: json.into(),
                },
                None => RootSource::Default { json: None },
            },
        }),
    };
    Ok(Required {
        name: format!("attestation ({predicate_type})"),
        predicate_type: resolved.into(),
        signer,
        conditions,
    })
}

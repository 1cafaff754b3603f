//! Notary v1: `portieris.notary.verify` over trust data the caller fetched.

use std::collections::BTreeMap;

use portieris_core::notary::{self, Metadata, Query, Signer, Step, TargetRef, Verified};
use portieris_core::reference::Digest;
use portieris_core::time::UnixTime;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{Kind, error};

/// The most rounds of delegation fetching one verification may ask for. The core bounds the
/// walk itself; this only stops a loop if it ever asked for the same roles again.
const MAX_ROUNDS: usize = 64;

/// A target verified from Notary v1 trust data.
#[pyclass(frozen, module = "portieris.notary", name = "Target")]
pub(crate) struct PyTarget {
    /// The signed manifest digest, `sha256:<hex>`.
    #[pyo3(get)]
    digest: String,
    /// The signed manifest length in bytes.
    #[pyo3(get)]
    length: u64,
    /// The roles that signed it (`targets/releases`, `targets/alice`, …).
    #[pyo3(get)]
    roles: Vec<String>,
    /// Unix seconds at which the first metadata of the chain expires.
    #[pyo3(get)]
    expires: u64,
}

#[pymethods]
impl PyTarget {
    fn __repr__(&self) -> String {
        format!(
            "Target(digest='{}', length={}, roles={:?}, expires={})",
            self.digest, self.length, self.roles, self.expires
        )
    }
}

impl From<Verified> for PyTarget {
    fn from(verified: Verified) -> Self {
        Self {
            digest: verified.digest.to_string(),
            length: verified.length,
            roles: verified.roles,
            expires: verified.expires.0,
        }
    }
}

/// Why a verification failed before or inside the core.
enum NotaryFailure {
    /// A role the chain needs is not in the metadata mapping.
    Missing(String),
    Refused(notary::NotaryError),
    Loop,
}

impl std::fmt::Display for NotaryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(role) => write!(
                f,
                "metadata has no \"{role}\" role, which the chain needs (map it to None if the server answered 404)"
            ),
            Self::Refused(e) => write!(f, "{e}"),
            Self::Loop => write!(
                f,
                "verification asked for more than {MAX_ROUNDS} rounds of delegations"
            ),
        }
    }
}

/// Runs the sans-IO verifier to the end, answering its delegation requests from `roles`.
fn drive(
    gun: &str,
    target: &TargetRef,
    signers: &[Signer],
    mut metadata: Metadata,
    roles: &BTreeMap<String, Option<Vec<u8>>>,
    now: UnixTime,
) -> Result<Verified, NotaryFailure> {
    let query = Query {
        gun,
        target,
        signers,
    };
    for _ in 0..MAX_ROUNDS {
        match notary::verify(&query, &metadata, now, None).map_err(NotaryFailure::Refused)? {
            Step::Done(verified) => return Ok(verified),
            Step::Fetch(wanted) => {
                for role in wanted {
                    let bytes = roles
                        .get(&role)
                        .ok_or_else(|| NotaryFailure::Missing(role.clone()))?;
                    metadata.delegations.insert(role, bytes.clone());
                }
            }
        }
    }
    Err(NotaryFailure::Loop)
}

/// Verifies Notary v1 trust data for a tag or digest of `gun`. See `portieris.notary.verify`.
#[pyfunction]
#[pyo3(signature = (gun, target, metadata, now, signers))]
pub(crate) fn notary_verify(
    py: Python<'_>,
    gun: &str,
    target: &str,
    metadata: BTreeMap<String, Option<Bound<'_, PyBytes>>>,
    now: u64,
    signers: Vec<(String, String)>,
) -> PyResult<PyTarget> {
    let metadata: BTreeMap<String, Option<Vec<u8>>> = metadata
        .into_iter()
        .map(|(role, bytes)| (role, bytes.map(|b| b.as_bytes().to_vec())))
        .collect();
    let target = if target.starts_with("sha256:") {
        TargetRef::Digest(
            Digest::parse(target)
                .map_err(|e| error(py, Kind::Verification, format!("\"{target}\": {e}")))?,
        )
    } else {
        TargetRef::Tag(target.to_string())
    };
    let signers: Vec<Signer> = signers
        .into_iter()
        .map(|(name, public_key_pem)| Signer {
            name,
            public_key_pem,
        })
        .collect();
    let top = |role: &str| -> PyResult<Vec<u8>> {
        match metadata.get(role) {
            Some(Some(bytes)) => Ok(bytes.clone()),
            Some(None) => Err(error(
                py,
                Kind::Verification,
                format!("the \"{role}\" role is None, but the chain cannot do without it"),
            )),
            None => Err(error(
                py,
                Kind::Verification,
                format!("metadata has no \"{role}\" role, which the chain needs"),
            )),
        }
    };
    let first = Metadata {
        root: top("root")?,
        timestamp: top("timestamp")?,
        snapshot: top("snapshot")?,
        targets: top("targets")?,
        delegations: BTreeMap::new(),
    };
    let outcome = py.allow_threads(|| {
        drive(gun, &target, &signers, first, &metadata, UnixTime(now)).map(PyTarget::from)
    });
    outcome.map_err(|e| error(py, Kind::Verification, e.to_string()))
}

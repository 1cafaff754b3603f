//! The native half of the `portieris` Python package (`portieris._portieris`).
//!
//! A thin layer over `portieris-core` and the webhook's admission path. The Python package
//! (`python/python/portieris/`) wraps these functions with the public API: argument
//! normalisation (datetimes, `str` metadata, dict AdmissionReviews) lives there, everything
//! that verifies lives here. Every error becomes one of the exceptions of
//! `portieris._errors`; nothing here panics on input. The GIL is released while verifying and
//! while waiting on the network; all network work runs on one shared tokio runtime.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use portieris_core::ImageRef;
use portieris_core::notary::{self, Metadata, Query, Signer, Step, TargetRef, Verified};
use portieris_core::policy::{PolicyKind, Resource, Unmatched};
use portieris_core::reference::Digest;
use portieris_core::time::UnixTime;
use portieris_core::{Options, PolicySet};
use portieris_webhook::admit::Admitter;
use portieris_webhook::config;
use portieris_webhook::evidence::Gatherer;
use portieris_webhook::policies::PolicyStore;
use portieris_webhook::policy_dir::{self, Document};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::Value;

/// The most rounds of delegation fetching one verification may ask for. The core bounds the
/// walk itself; this only stops a loop if it ever asked for the same roles again.
const MAX_ROUNDS: usize = 64;
/// Largest policy text read by `Policies.from_yaml`, as for a file of a policy folder.
const MAX_POLICY_BYTES: usize = 16 * 1024 * 1024;

/// A Python exception of `portieris._errors` (`Error`, `ReferenceError`, `PolicyError`,
/// `VerificationError`): those are plain Python classes so that `ReferenceError` can also be
/// a `ValueError`.
fn error(py: Python<'_>, kind: &str, message: impl Into<String>) -> PyErr {
    let message = message.into();
    match py
        .import("portieris._errors")
        .and_then(|m| m.getattr(kind))
        .and_then(|class| class.call1((message,)))
    {
        Ok(value) => PyErr::from_value(value),
        Err(e) => e,
    }
}

/// The one runtime every network call shares, built on first use.
fn runtime(py: Python<'_>) -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("portieris")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| error(py, "Error", format!("cannot start the I/O runtime: {e}")))
}

// ---------------------------------------------------------------------------------------------
// References

/// A parsed, normalised image reference (`portieris.parse_reference`).
#[pyclass(frozen, eq, hash, module = "portieris", name = "Reference")]
#[derive(Clone, PartialEq, Eq, Hash)]
struct PyReference {
    inner: ImageRef,
}

#[pymethods]
impl PyReference {
    /// The registry host, with its port if it has one (`docker.io`, `localhost:5000`).
    #[getter]
    fn registry(&self) -> &str {
        self.inner.domain()
    }

    /// The repository path inside the registry (`library/nginx`).
    #[getter]
    fn repository(&self) -> &str {
        self.inner.path()
    }

    /// The tag; `latest` when the reference had neither tag nor digest.
    #[getter]
    fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest (`sha256:<hex>`) when the reference pins one.
    #[getter]
    fn digest(&self) -> Option<String> {
        self.inner.digest().map(ToString::to_string)
    }

    /// `registry/repository`: the repository name without tag or digest.
    #[getter]
    fn name(&self) -> String {
        self.inner.name()
    }

    /// `registry/repository@digest`, the form an admitted image is rewritten to.
    fn pinned(&self, py: Python<'_>, digest: &str) -> PyResult<String> {
        let digest =
            Digest::parse(digest).map_err(|e| error(py, "ReferenceError", e.to_string()))?;
        Ok(self.inner.pinned(&digest))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Reference('{}')", self.inner)
    }
}

/// Parses and normalises an image reference as docker does.
#[pyfunction]
fn parse_reference(py: Python<'_>, text: &str) -> PyResult<PyReference> {
    ImageRef::parse(text)
        .map(|inner| PyReference { inner })
        .map_err(|e| error(py, "ReferenceError", format!("\"{text}\": {e}")))
}

// ---------------------------------------------------------------------------------------------
// Notary

/// A target verified from Notary v1 trust data.
#[pyclass(frozen, module = "portieris.notary", name = "Target")]
struct PyTarget {
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
fn notary_verify(
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
                .map_err(|e| error(py, "VerificationError", format!("\"{target}\": {e}")))?,
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
                "VerificationError",
                format!("the \"{role}\" role is None, but the chain cannot do without it"),
            )),
            None => Err(error(
                py,
                "VerificationError",
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
    outcome.map_err(|e| error(py, "VerificationError", e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Simple signing

/// A simple-signing payload whose signature verified.
#[pyclass(frozen, module = "portieris.simple", name = "Payload")]
struct PySimplePayload {
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
enum SimpleFailure {
    Verification(String),
    Reference(String),
    Policy(String),
}

/// Verifies one simple signature; see `portieris.simple.verify`.
#[pyfunction]
#[pyo3(signature = (signature, keyring, reference, digest, identity, now))]
fn simple_verify(
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
    outcome.map_err(|failure| match failure {
        SimpleFailure::Verification(m) => error(py, "VerificationError", m),
        SimpleFailure::Reference(m) => error(py, "ReferenceError", m),
        SimpleFailure::Policy(m) => error(py, "PolicyError", m),
    })
}

fn check_simple(
    signature: &[u8],
    keyring: &[u8],
    reference: Option<&str>,
    digest: Option<&str>,
    identity: Option<&str>,
    now: UnixTime,
) -> Result<PySimplePayload, SimpleFailure> {
    use portieris_core::policy::SignedIdentity;
    use portieris_core::simple::openpgp;
    use portieris_core::simple::{IdentityRule, Payload};

    let expected_digest = digest
        .map(|d| Digest::parse(d).map_err(|e| SimpleFailure::Reference(format!("\"{d}\": {e}"))))
        .transpose()?;
    let image = reference
        .map(|r| ImageRef::parse(r).map_err(|e| SimpleFailure::Reference(format!("\"{r}\": {e}"))))
        .transpose()?;
    let rule = match identity {
        Some(json) => {
            let identity: SignedIdentity = serde_json::from_str(json)
                .map_err(|e| SimpleFailure::Policy(format!("signedIdentity: {e}")))?;
            IdentityRule::from_policy(&identity)
                .map_err(|e| SimpleFailure::Policy(format!("signedIdentity: {e}")))?
        }
        None => IdentityRule::MatchRepoDigestOrExact,
    };
    let keyring =
        openpgp::Keyring::parse(keyring).map_err(|e| SimpleFailure::Verification(e.to_string()))?;
    let verified = openpgp::verify(&keyring, signature, now)
        .map_err(|e| SimpleFailure::Verification(e.to_string()))?;
    let payload = Payload::parse(&verified.payload)
        .map_err(|e| SimpleFailure::Verification(e.to_string()))?;
    if let Some(expected) = &expected_digest
        && payload.digest != *expected
    {
        return Err(SimpleFailure::Verification(format!(
            "signed by {} for digest {}, expected {expected}",
            verified.signer, payload.digest
        )));
    }
    if let Some(image) = &image {
        rule.check(image, &payload.identity).map_err(|e| {
            SimpleFailure::Verification(format!("signed by {}: {e}", verified.signer))
        })?;
    }
    Ok(PySimplePayload {
        reference: payload.identity.to_string(),
        digest: payload.digest.to_string(),
        signer: verified.signer,
        payload: verified.payload,
    })
}

// ---------------------------------------------------------------------------------------------
// Policies

/// ImagePolicy, ClusterImagePolicy and Secret objects, compiled for matching and reviews.
#[pyclass(frozen, module = "portieris", name = "Policies")]
struct PyPolicies {
    store: Arc<PolicyStore>,
    /// The objects as written, for the policy dict `match` returns.
    objects: Vec<Value>,
}

/// Parses a multi-document YAML (or JSON) text into objects; every problem, one a line.
fn parse_documents(text: &str) -> Result<(Vec<Resource>, Vec<Value>), Vec<String>> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(vec![format!(
            "the policy text is larger than {MAX_POLICY_BYTES} bytes"
        )]);
    }
    let mut resources = Vec::new();
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    // The policy folder's reader: duplicate keys refused, aliases bounded.
    let stream = policy_dir::read_yaml(text);
    for Document { number, value } in stream.documents {
        match Resource::from_value(&value) {
            Ok(resource) => {
                resources.push(resource);
                objects.push(value);
            }
            Err(e) => problems.push(format!("document {number}: {e}")),
        }
    }
    if let Some((number, e)) = stream.error {
        problems.push(format!("document {number}: {e}"));
    }
    if problems.is_empty() {
        Ok((resources, objects))
    } else {
        Err(problems)
    }
}

/// The `policy` of repository `repository` in the object that matched, as written.
fn written_policy(
    objects: &[Value],
    kind: PolicyKind,
    namespace: Option<&str>,
    object: &str,
    repository: &str,
) -> Value {
    let kind = kind.to_string();
    objects
        .iter()
        .filter(|o| o["kind"].as_str() == Some(kind.as_str()))
        .filter(|o| o["metadata"]["name"].as_str() == Some(object))
        .filter(|o| {
            // An ImagePolicy without a namespace is in "default", as the core reads it.
            namespace.is_none()
                || Some(o["metadata"]["namespace"].as_str().unwrap_or("default")) == namespace
        })
        .filter_map(|o| o["spec"]["repositories"].as_array())
        .flatten()
        .find(|r| r["name"].as_str() == Some(repository))
        .map(|r| {
            r.get("policy")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()))
        })
        .unwrap_or(Value::Null)
}

#[pymethods]
impl PyPolicies {
    /// Reads ImagePolicy, ClusterImagePolicy and Secret documents from a YAML (or JSON) text.
    #[staticmethod]
    fn from_yaml(py: Python<'_>, text: &str) -> PyResult<Self> {
        let (resources, objects) = parse_documents(text).map_err(|problems| {
            error(
                py,
                "PolicyError",
                format!("the policies have problems:\n{}", problems.join("\n")),
            )
        })?;
        let store = Arc::new(PolicyStore::new());
        store.replace(PolicySet::new(resources));
        Ok(Self { store, objects })
    }

    /// The rule that governs `image` in `namespace`: (repository name, policy JSON), or None.
    fn match_json(
        &self,
        py: Python<'_>,
        namespace: &str,
        image: &str,
    ) -> PyResult<Option<(String, String)>> {
        let image = ImageRef::parse(image)
            .map_err(|e| error(py, "ReferenceError", format!("\"{image}\": {e}")))?;
        let set = self.store.current();
        match set.resolve(namespace, &image) {
            Ok(found) => {
                let policy = written_policy(
                    &self.objects,
                    found.kind,
                    found.namespace,
                    found.object,
                    found.repository,
                );
                Ok(Some((found.repository.to_string(), policy.to_string())))
            }
            Err(invalid @ Unmatched::Invalid { .. }) => {
                Err(error(py, "PolicyError", invalid.to_string()))
            }
            Err(_) => Ok(None),
        }
    }

    /// Why `image` has no rule in `namespace` (the deny message), or None when one governs it.
    fn unmatched_reason(
        &self,
        py: Python<'_>,
        namespace: &str,
        image: &str,
    ) -> PyResult<Option<String>> {
        let image = ImageRef::parse(image)
            .map_err(|e| error(py, "ReferenceError", format!("\"{image}\": {e}")))?;
        Ok(self
            .store
            .current()
            .resolve(namespace, &image)
            .err()
            .map(|e| e.to_string()))
    }

    /// How many objects were read (policies and Secrets).
    fn __len__(&self) -> usize {
        self.objects.len()
    }

    fn __repr__(&self) -> String {
        format!("Policies(<{} objects>)", self.objects.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Reviews

/// Evaluates one AdmissionReview body with the webhook's admission path and the real evidence
/// gatherer. Returns (HTTP status, response body): 200 with an AdmissionReview, or 400 with a
/// message when the body is not one.
#[pyfunction]
#[pyo3(signature = (body, policies, ca_file, trust_servers, fetch_timeout, deadline, allow_unknown_kinds))]
#[allow(clippy::too_many_arguments)]
fn review_json(
    py: Python<'_>,
    body: &Bound<'_, PyBytes>,
    policies: &PyPolicies,
    ca_file: Option<PathBuf>,
    trust_servers: Vec<(String, String)>,
    fetch_timeout: f64,
    deadline: f64,
    allow_unknown_kinds: bool,
) -> PyResult<(u16, Py<PyBytes>)> {
    let seconds = |name: &str, value: f64| {
        Duration::try_from_secs_f64(value)
            .map_err(|e| error(py, "Error", format!("{name}={value}: {e}")))
    };
    let args = config::Fetch {
        timeout: seconds("fetch_timeout", fetch_timeout)?,
        ca_file,
        trust_servers,
        // One Gatherer per call: nothing outlives it, so the cache TTL does not matter.
        trust_cache_ttl: Duration::from_secs(60),
        max_bytes_in_flight: portieris_webhook::fetch::DEFAULT_BYTES_IN_FLIGHT,
    };
    let deadline = seconds("deadline", deadline)?;
    let options = Options {
        allow_unknown_kinds,
        ..Default::default()
    };
    let runtime = runtime(py)?;
    let store = policies.store.clone();
    let body = body.as_bytes().to_vec();
    let outcome = py.allow_threads(move || {
        runtime.block_on(async move {
            let gatherer = Gatherer::new(&args).map_err(|e| e.to_string())?;
            let admitter = Admitter::new(store, Box::new(gatherer), options, deadline);
            Ok::<_, String>(admitter.admit(&body).await)
        })
    });
    let admitted = outcome.map_err(|e| error(py, "Error", e))?;
    Ok((admitted.status, PyBytes::new(py, &admitted.body).unbind()))
}

/// The native module; the public API is the `portieris` package around it.
#[pymodule]
fn _portieris(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyReference>()?;
    m.add_class::<PyTarget>()?;
    m.add_class::<PyPolicies>()?;
    m.add_class::<PySimplePayload>()?;
    m.add_function(wrap_pyfunction!(parse_reference, m)?)?;
    m.add_function(wrap_pyfunction!(notary_verify, m)?)?;
    m.add_function(wrap_pyfunction!(review_json, m)?)?;
    m.add_function(wrap_pyfunction!(simple_verify, m)?)?;
    Ok(())
}

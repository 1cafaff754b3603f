//! `portieris.review`: one AdmissionReview through the webhook's admission path, on a shared
//! tokio runtime, with the GIL released while it waits on the network.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use portieris_core::Options;
use portieris_webhook::admit::Admitter;
use portieris_webhook::config;
use portieris_webhook::evidence::Gatherer;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{Kind, error};
use crate::policies::PyPolicies;

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
        .map_err(|e| {
            error(
                py,
                Kind::Error,
                format!("cannot start the I/O runtime: {e}"),
            )
        })
}

/// Evaluates one AdmissionReview body with the webhook's admission path and the real evidence
/// gatherer. Returns (HTTP status, response body): 200 with an AdmissionReview, or 400 with a
/// message when the body is not one.
#[pyfunction]
#[pyo3(signature = (body, policies, ca_file, trust_servers, fetch_timeout, deadline, allow_unknown_kinds))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn review_json(
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
            .map_err(|e| error(py, Kind::Error, format!("{name}={value}: {e}")))
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
    let admitted = outcome.map_err(|e| error(py, Kind::Error, e))?;
    Ok((admitted.status, PyBytes::new(py, &admitted.body).unbind()))
}

//! The native half of the `portieris` Python package (`portieris._portieris`).
//!
//! A thin layer over `portieris-core` and the webhook's admission path. The Python package
//! (`python/python/portieris/`) wraps these functions with the public API: argument
//! normalisation (datetimes, `str` metadata, dict AdmissionReviews) lives there, everything
//! that verifies lives here. Every error becomes one of the exceptions of
//! `portieris._errors` ([`errors`]); nothing here panics on input. The GIL is released while
//! verifying and while waiting on the network; all network work runs on one shared tokio
//! runtime ([`review`]).

mod attestations;
mod cosign;
mod errors;
mod notary;
mod notation;
mod policies;
mod reference;
mod review;
mod sigstore;
mod simple;

use pyo3::prelude::*;

/// The native module; the public API is the `portieris` package around it.
#[pymodule]
fn _portieris(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "COSIGN_MAX_SIGNATURES",
        portieris_core::cosign::MAX_SIGNATURES,
    )?;
    m.add_class::<reference::PyReference>()?;
    m.add_class::<notary::PyTarget>()?;
    m.add_class::<policies::PyPolicies>()?;
    m.add_class::<simple::PySimplePayload>()?;
    m.add_class::<cosign::PyCosignVerified>()?;
    m.add_function(wrap_pyfunction!(reference::parse_reference, m)?)?;
    m.add_function(wrap_pyfunction!(notary::notary_verify, m)?)?;
    m.add_function(wrap_pyfunction!(review::review_json, m)?)?;
    m.add_function(wrap_pyfunction!(simple::simple_verify, m)?)?;
    m.add_function(wrap_pyfunction!(cosign::cosign_verify, m)?)?;
    m.add_function(wrap_pyfunction!(cosign::cosign_layers, m)?)?;
    // Named `Verified` and `Identity` in `portieris.sigstore`; `cosign` has a `Verified` too.
    m.add(
        "SigstoreVerified",
        m.py().get_type::<sigstore::PySigstoreVerified>(),
    )?;
    m.add(
        "SigstoreIdentity",
        m.py().get_type::<sigstore::PySigstoreIdentity>(),
    )?;
    m.add_function(wrap_pyfunction!(sigstore::sigstore_verify_bundle, m)?)?;
    m.add(
        "AttestationStatement",
        m.py().get_type::<attestations::PyStatement>(),
    )?;
    m.add_function(wrap_pyfunction!(attestations::attestations_verify, m)?)?;
    m.add(
        "NotationVerified",
        m.py().get_type::<notation::PyVerified>(),
    )?;
    m.add_function(wrap_pyfunction!(notation::notation_verify, m)?)?;
    Ok(())
}

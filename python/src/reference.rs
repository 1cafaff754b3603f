//! Image references: `portieris.parse_reference` and `portieris.Reference`.

use portieris_core::ImageRef;
use portieris_core::reference::Digest;
use pyo3::prelude::*;

use crate::errors::{Kind, error};

/// A parsed, normalised image reference (`portieris.parse_reference`).
#[pyclass(frozen, eq, hash, module = "portieris", name = "Reference")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyReference {
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
            Digest::parse(digest).map_err(|e| error(py, Kind::Reference, e.to_string()))?;
        Ok(self.inner.pinned(&digest))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Reference('{}')", self.inner)
    }
}

/// Parses an image reference, or the `ReferenceError` naming it.
pub(crate) fn parse(py: Python<'_>, text: &str) -> PyResult<ImageRef> {
    ImageRef::parse(text).map_err(|e| error(py, Kind::Reference, format!("\"{text}\": {e}")))
}

/// Parses and normalises an image reference as docker does.
#[pyfunction]
pub(crate) fn parse_reference(py: Python<'_>, text: &str) -> PyResult<PyReference> {
    parse(py, text).map(|inner| PyReference { inner })
}

/// Parses a manifest digest, or the `ReferenceError` naming it.
pub(crate) fn parse_digest(py: Python<'_>, text: &str) -> PyResult<Digest> {
    Digest::parse(text).map_err(|e| error(py, Kind::Reference, format!("\"{text}\": {e}")))
}

//! The exceptions of `portieris._errors`, raised from Rust: those are plain Python classes (so
//! that `ReferenceError` can also be a `ValueError`), looked up by name when raised.

use portieris_core::reason::{Class, Reason};
use pyo3::prelude::*;

/// Which exception of `portieris._errors` a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Error`: the base class, for what fits no other (a runtime that cannot start).
    Error,
    /// `ReferenceError`: an image reference or digest that does not parse.
    Reference,
    /// `PolicyError`: a policy, key or requirement that cannot be applied as written.
    Policy,
    /// `VerificationError`: evidence that does not verify.
    Verification,
}

impl Kind {
    const fn class_name(self) -> &'static str {
        match self {
            Self::Error => "Error",
            Self::Reference => "ReferenceError",
            Self::Policy => "PolicyError",
            Self::Verification => "VerificationError",
        }
    }
}

/// A `portieris._errors` exception of `kind` with `message`.
pub(crate) fn error(py: Python<'_>, kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    match py
        .import("portieris._errors")
        .and_then(|m| m.getattr(kind.class_name()))
        .and_then(|class| class.call1((message,)))
    {
        Ok(value) => PyErr::from_value(value),
        Err(e) => e,
    }
}

/// The exception a core [`Reason`] raises, by its class: the policy's (a key that cannot be
/// read) is a `PolicyError`; evidence that says no, or that could not be read, a
/// `VerificationError`.
pub(crate) fn from_reason(py: Python<'_>, reason: Reason) -> PyErr {
    let kind = match reason.class {
        Class::Policy => Kind::Policy,
        Class::Refused | Class::Unverifiable => Kind::Verification,
    };
    error(py, kind, reason.text)
}

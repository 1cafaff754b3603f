//! Why an image or a request is denied, typed by whose move it is: the evidence said no, it
//! could not be had, or the policy itself is broken. Text is written once, here; the class
//! travels with it to the edge (the AdmissionReview message, the log, the metrics).

use alloc::string::String;
use core::fmt;

/// Whose move a deny is. Ordered by how much it says about the image: a request denied for
/// several reasons is counted under the greatest ([`Reason::class`] of the decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// The evidence could not be fetched or read (a timeout, a 5xx, a registry without the
    /// signature API): trying again may admit.
    Unverifiable,
    /// The policies and the evidence say no: no policy, no signature, a bad signature, a digest
    /// the signatures do not name, an unknown kind.
    Refused,
    /// The policy cannot be applied as written: a missing or malformed Secret or key, an
    /// invalid scope, a requirement this build does not know. An operator must fix it.
    Policy,
}

impl Class {
    /// The value of the `reason` label of `portieris_admission_decisions_total`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Unverifiable => "unverifiable",
            Self::Refused => "refused",
            Self::Policy => "policy",
        }
    }
}

/// One reason, as it will read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reason {
    // Text first: reasons sort (and deduplicate) by what they say.
    pub text: String,
    pub class: Class,
}

impl Reason {
    pub fn new(class: Class, text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            class,
        }
    }

    pub fn refused(text: impl Into<String>) -> Self {
        Self::new(Class::Refused, text)
    }

    pub fn unverifiable(text: impl Into<String>) -> Self {
        Self::new(Class::Unverifiable, text)
    }

    pub fn policy(text: impl Into<String>) -> Self {
        Self::new(Class::Policy, text)
    }

    /// Several reasons as one, `; `-separated, of the greatest class; `None` for none.
    pub fn join(reasons: impl IntoIterator<Item = Reason>) -> Option<Self> {
        reasons.into_iter().reduce(|mut all, next| {
            all.text.push_str("; ");
            all.text.push_str(&next.text);
            all.class = all.class.max(next.class);
            all
        })
    }

    /// The same reason with `more` appended to its text.
    pub fn with_suffix(mut self, more: &str) -> Self {
        self.text.push_str(more);
        self
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

//! The signer's identity in a Fulcio certificate: the subject alternative name, the OIDC
//! issuer and the other claims Fulcio copies from the token into extensions under
//! 1.3.6.1.4.1.57264.1 (names as Fulcio's `docs/oid-info.md` gives them).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use core::fmt;

use der::Decode as _;
use der::asn1::{ObjectIdentifier, Utf8StringRef};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// `otherName` type of a Fulcio username SAN.
const USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// The OIDC issuer, a DER UTF8String.
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// The deprecated OIDC issuer: the raw string as the extension's value.
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

/// What kind of subject alternative name the certificate has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Email,
    Uri,
    /// Fulcio's `otherName` username (1.3.6.1.4.1.57264.1.7).
    Username,
}

/// The identity in a Fulcio certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// The subject alternative name: an email, a URI (a CI workflow) or a username.
    pub subject: String,
    pub subject_kind: SubjectKind,
    /// The OIDC issuer (`None` if the certificate names none: no policy then matches).
    pub issuer: Option<String>,
    /// Fulcio's other extensions present, by name (`sourceRepositoryURI`, …).
    pub extensions: BTreeMap<&'static str, String>,
}

/// How a Fulcio extension's value is encoded.
#[derive(Clone, Copy)]
enum Encoding {
    /// The deprecated GitHub extensions (.1.2–.1.6): the string's bytes as they are.
    Raw,
    /// Everything from .1.8 on: a DER UTF8String.
    Utf8String,
}

/// Fulcio's extensions by the last arc of their OID, with their names.
const EXTENSIONS: [(u32, &str, Encoding); 19] = [
    (2, "githubWorkflowTrigger", Encoding::Raw),
    (3, "githubWorkflowSha", Encoding::Raw),
    (4, "githubWorkflowName", Encoding::Raw),
    (5, "githubWorkflowRepository", Encoding::Raw),
    (6, "githubWorkflowRef", Encoding::Raw),
    (9, "buildSignerURI", Encoding::Utf8String),
    (10, "buildSignerDigest", Encoding::Utf8String),
    (11, "runnerEnvironment", Encoding::Utf8String),
    (12, "sourceRepositoryURI", Encoding::Utf8String),
    (13, "sourceRepositoryDigest", Encoding::Utf8String),
    (14, "sourceRepositoryRef", Encoding::Utf8String),
    (15, "sourceRepositoryIdentifier", Encoding::Utf8String),
    (16, "sourceRepositoryOwnerURI", Encoding::Utf8String),
    (17, "sourceRepositoryOwnerIdentifier", Encoding::Utf8String),
    (18, "buildConfigURI", Encoding::Utf8String),
    (19, "buildConfigDigest", Encoding::Utf8String),
    (20, "buildTrigger", Encoding::Utf8String),
    (21, "runInvocationURI", Encoding::Utf8String),
    (
        22,
        "sourceRepositoryVisibilityAtSigning",
        Encoding::Utf8String,
    ),
];

/// The names of the Fulcio extensions an identity policy may name.
pub fn extension_names() -> impl Iterator<Item = &'static str> {
    EXTENSIONS.iter().map(|(_, name, _)| *name)
}

/// Why the identity cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FulcioError {
    /// No subject alternative name of a kind Fulcio issues (email, URI, username).
    NoSubject,
    /// More than one subject alternative name: which one signed would be ambiguous.
    SeveralSubjects,
    /// An extension (named, or its OID) that is not what Fulcio writes, or is there twice.
    Extension(String),
}

impl fmt::Display for FulcioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSubject => f.write_str("no email, URI or username subject alternative name"),
            Self::SeveralSubjects => f.write_str("more than one subject alternative name"),
            Self::Extension(name) => write!(f, "extension {name} is malformed or repeated"),
        }
    }
}

impl core::error::Error for FulcioError {}

/// Reads the identity of a Fulcio certificate.
pub(super) fn identity(cert: &Certificate) -> Result<CertIdentity, FulcioError> {
    let (subject_kind, subject) = subject(cert)?;
    let issuer = match extension(cert, &ISSUER_V2)? {
        Some(value) => Some(utf8_string(value).ok_or(FulcioError::Extension("issuer".into()))?),
        None => extension(cert, &ISSUER_V1)?
            .map(|value| raw_string(value).ok_or(FulcioError::Extension("issuer (v1)".into())))
            .transpose()?,
    };
    let mut extensions = BTreeMap::new();
    for (arc, name, encoding) in EXTENSIONS {
        let oid = fulcio_oid(arc).ok_or(FulcioError::Extension(name.into()))?;
        let Some(value) = extension(cert, &oid)? else {
            continue;
        };
        let text = match encoding {
            Encoding::Raw => raw_string(value),
            Encoding::Utf8String => utf8_string(value),
        };
        extensions.insert(name, text.ok_or(FulcioError::Extension(name.into()))?);
    }
    Ok(CertIdentity {
        subject,
        subject_kind,
        issuer,
        extensions,
    })
}

fn fulcio_oid(arc: u32) -> Option<ObjectIdentifier> {
    ObjectIdentifier::new("1.3.6.1.4.1.57264.1")
        .ok()?
        .push_arc(arc)
        .ok()
}

fn extension<'c>(
    cert: &'c Certificate,
    oid: &ObjectIdentifier,
) -> Result<Option<&'c [u8]>, FulcioError> {
    let mut found = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == *oid);
    let first = found.next().map(|e| e.extn_value.as_bytes());
    if found.next().is_some() {
        return Err(FulcioError::Extension(oid.to_string()));
    }
    Ok(first)
}

fn subject(cert: &Certificate) -> Result<(SubjectKind, String), FulcioError> {
    let value = extension(cert, &SUBJECT_ALT_NAME)?.ok_or(FulcioError::NoSubject)?;
    let names = SubjectAltName::from_der(value)
        .map_err(|_| FulcioError::Extension("subjectAltName".into()))?;
    let mut names = names.0.iter();
    let first = names.next().ok_or(FulcioError::NoSubject)?;
    if names.next().is_some() {
        return Err(FulcioError::SeveralSubjects);
    }
    match first {
        GeneralName::Rfc822Name(email) => Ok((SubjectKind::Email, email.to_string())),
        GeneralName::UniformResourceIdentifier(uri) => Ok((SubjectKind::Uri, uri.to_string())),
        GeneralName::OtherName(other) if other.type_id == USERNAME => {
            let name = other
                .value
                .decode_as::<Utf8StringRef<'_>>()
                .map_err(|_| FulcioError::Extension("subjectAltName".into()))?;
            Ok((SubjectKind::Username, name.as_str().into()))
        }
        _ => Err(FulcioError::NoSubject),
    }
}

fn utf8_string(der: &[u8]) -> Option<String> {
    Utf8StringRef::from_der(der).ok().map(|s| s.as_str().into())
}

fn raw_string(bytes: &[u8]) -> Option<String> {
    core::str::from_utf8(bytes).ok().map(String::from)
}

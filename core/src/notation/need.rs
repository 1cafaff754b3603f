//! The Notation need of a policy: the trust policy document and the trust stores read from
//! their Secrets, once per admission, before any signature is fetched.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::trust_policy::{StoreKind, StoreRef, TrustPolicy};
use crate::crypto::pem;
use crate::limits::{MAX_CRLS, MAX_TRUST_STORE_CERTIFICATES};
use crate::policy::secrets::{self, SecretScope};
use crate::policy::{Notation, Policy, PolicySet, Secret};
use crate::reason::Reason;

/// The key of the trust policy Secret holding the document (notation's file names).
pub const TRUST_POLICY_KEYS: [&str; 2] = ["trustpolicy.json", "trustpolicy.oci.json"];

/// Signatures of the image's manifest digest among its referrers, one of which must pass
/// the trust policy statement for the image's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationNeed {
    pub trust_policy: Arc<TrustPolicy>,
    pub stores: BTreeMap<StoreRef, TrustStore>,
}

/// One named trust store: DER certificates and DER CRLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustStore {
    pub certificates: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
}

/// `None` unless the policy has `notation`; otherwise the need, or why it cannot be built
/// (the policy's to fix).
pub fn need(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<Option<NotationNeed>, Vec<Reason>> {
    let Some(notation) = &policy.notation else {
        return Ok(None);
    };
    read(notation, secrets, policies)
        .map(Some)
        .map_err(|why| why.into_iter().map(Reason::policy).collect())
}

fn read(
    notation: &Notation,
    scope: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<NotationNeed, Vec<String>> {
    let mut problems = shape(notation);
    let namespace =
        secrets::key_namespace(&notation.secret_namespace, scope, "notation").map_err(one)?;
    let document = secrets::find(
        policies,
        namespace,
        &notation.trust_policy.secret,
        "notation trust policy",
    )
    .and_then(document);
    let mut stores = BTreeMap::new();
    for store in &notation.trust_stores {
        let kind = StoreKind::parse(&store.kind);
        let read = secrets::find(policies, namespace, &store.secret, "notation trust store")
            .and_then(|secret| trust_store(secret, &store.name));
        match (kind, read) {
            (Some(kind), Ok(read)) => {
                let name = store.name.clone();
                stores.insert(StoreRef { kind, name }, read);
            }
            (_, Err(why)) => problems.push(why),
            (None, Ok(_)) => {}
        }
    }
    match document {
        Ok(trust_policy) if problems.is_empty() => Ok(NotationNeed {
            trust_policy: Arc::new(trust_policy),
            stores,
        }),
        Ok(_) => Err(problems),
        Err(why) => {
            problems.insert(0, why);
            Err(problems)
        }
    }
}

fn one(why: String) -> Vec<String> {
    alloc::vec![why]
}

/// Whether the policy's `notation` is wrong as written: no warn mode softens that.
pub fn broken(policy: &Policy) -> bool {
    policy
        .notation
        .as_ref()
        .is_some_and(|n| !shape(n).is_empty())
}

/// What is wrong with the `notation` field itself, Secrets aside: every trust store has a
/// known type, a name and a Secret, and no two share a type and name.
pub fn shape(notation: &Notation) -> Vec<String> {
    let mut problems = Vec::new();
    if notation.trust_policy.secret.is_empty() {
        problems.push("notation trustPolicy names no Secret".into());
    }
    let mut seen = BTreeMap::new();
    for (n, store) in notation.trust_stores.iter().enumerate() {
        let what = format!("notation trustStores[{n}]");
        if StoreKind::parse(&store.kind).is_none() {
            problems.push(format!(
                "{what}: type \"{}\" is not ca, signingAuthority or tsa",
                store.kind
            ));
        }
        if store.name.is_empty() || store.secret.is_empty() {
            problems.push(format!("{what} needs a name and a secret"));
        }
        if seen.insert((&store.kind, &store.name), n).is_some() {
            problems.push(format!(
                "{what}: {}:{} is given twice",
                store.kind, store.name
            ));
        }
    }
    problems
}

/// What is wrong with the trust policy document in `secret` for `notation`: it does not
/// parse or validate, or it names a trust store that `notation.trustStores` does not give
/// (the statement using it would deny every image). For `portieris validate`.
pub fn document_problems(notation: &Notation, secret: &Secret) -> Vec<String> {
    match document(secret) {
        Err(why) => alloc::vec![why],
        Ok(document) => (document.stores().into_iter())
            .filter(|named| {
                !notation.trust_stores.iter().any(|given| {
                    StoreKind::parse(&given.kind) == Some(named.kind) && given.name == named.name
                })
            })
            .map(|named| {
                format!("the trust policy document uses the trust store {named}, which trustStores does not give")
            })
            .collect(),
    }
}

fn document(secret: &Secret) -> Result<TrustPolicy, String> {
    let json = TRUST_POLICY_KEYS
        .iter()
        .find_map(|key| secrets::field(secret, key).ok())
        .ok_or_else(|| {
            format!(
                "Secret \"{}/{}\" has no \"trustpolicy.json\"",
                secret.namespace, secret.name
            )
        })?;
    TrustPolicy::parse(json).map_err(|e| format!("{e} (Secret \"{}\")", secret.name))
}

fn trust_store(secret: &Secret, name: &str) -> Result<TrustStore, String> {
    let entries = secret.data.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
    TrustStore::read(entries).map_err(|why| {
        format!(
            "notation trust store \"{name}\": Secret \"{}/{}\" {why}",
            secret.namespace, secret.name
        )
    })
}

impl TrustStore {
    /// A store from named entries, as a Secret's keys: CRLs in keys ending in `.crl`,
    /// certificates in the others, each PEM (any number of blocks) or one DER value.
    pub fn read<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, String> {
        let mut store = Self::default();
        for (key, value) in entries {
            let crl = key.ends_with(".crl");
            let label = if crl { "X509 CRL" } else { "CERTIFICATE" };
            let ders = ders(value, label)
                .ok_or_else(|| format!("key \"{key}\" is not PEM ({label}) or DER"))?;
            if crl {
                store.crls.extend(ders);
            } else {
                store.certificates.extend(ders);
            }
        }
        if store.certificates.is_empty() {
            return Err("holds no certificate".into());
        }
        if store.certificates.len() > MAX_TRUST_STORE_CERTIFICATES || store.crls.len() > MAX_CRLS {
            return Err(format!(
                "holds more than {MAX_TRUST_STORE_CERTIFICATES} certificates or {MAX_CRLS} CRLs"
            ));
        }
        Ok(store)
    }
}

/// The DER values of `bytes`: its PEM blocks labelled `label`, or `bytes` itself when it is
/// not PEM text (a DER SEQUENCE).
fn ders(bytes: &[u8], label: &str) -> Option<Vec<Vec<u8>>> {
    match core::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN ") => {
            let blocks = pem::decode_all(text)?;
            let wanted: Vec<Vec<u8>> = blocks
                .into_iter()
                .filter(|b| b.label == label)
                .map(|b| b.der)
                .collect();
            (!wanted.is_empty()).then_some(wanted)
        }
        _ => (bytes.first() == Some(&0x30)).then(|| alloc::vec![bytes.to_vec()]),
    }
}

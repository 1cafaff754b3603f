//! What simple signing and cosign read from an image's registry (OCI distribution API): the
//! manifest digest a tag names, signatures through the registry signature extension API
//! (`X-Registry-Supports-Signatures`, as OpenShift's registry serves them), and manifests by
//! tag and blobs by digest (hash-checked) for cosign's signature artifacts.
//!
//! Tags are resolved with a `GET` of the manifest and the digest computed here from the bytes
//! served: a `HEAD` answer would only carry the registry's claim (`Docker-Content-Digest`),
//! and an admission decision must not rest on a claim it can check. When the registry does
//! send the header, it must agree. An index (multi-arch image) is resolved to the index's own
//! digest, which is what signers sign with `skopeo copy --all` and what the pod is pinned to.
//!
//! Resolved digests are cached per (registry, repository, tag, credentials) for a short time,
//! failures for a few seconds; concurrent identical lookups share one fetch. Credentials are
//! part of the key: a namespace that cannot read a private repository must not learn its
//! digests through another namespace's lookup.
//!
//! The [`Registry`] also holds the caches of fetched signature sets, simple signing's (from
//! the extension API or a lookaside store) and cosign's (see [`crate::signature_sets`]): it is
//! the one reader simple signing and cosign share.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use portieris_core::{Digest, ImageRef};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::fetch::coalesce::Coalescer;
use crate::fetch::{Credential, FetchError, Fetcher, Session};
use crate::signature_sets::SignatureSets;

/// Manifest formats whose digest is the sha256 of their bytes: OCI manifest and index,
/// Docker v2 schema 2 manifest and manifest list (not schema 1, whose digest excludes its
/// embedded signatures).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";
/// Largest manifest accepted (containers/image's limit for manifests); the fetch stops reading
/// as soon as a manifest passes it.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest signature list of the extension API (containers/image's limit), and of the `/v2/`
/// answer read before it (its body is not used).
pub const MAX_SIGNATURE_LIST_BYTES: usize = 4 * 1024 * 1024;
/// How long a tag's digest is reused: tags move, so briefly.
pub const DIGEST_TTL: Duration = Duration::from_secs(30);
/// Failures are remembered this long: a burst of pods with a broken image costs one fetch.
const FAILURE_TTL: Duration = Duration::from_secs(5);
const CACHE_ENTRIES: usize = 10_000;
/// Bytes of cached digests (64 hex digits each, so 10,000 are 640 KiB) and failures (weighed
/// by their message): the entry bound comes first unless many failures quote long messages.
const CACHE_BYTES: usize = 4 * 1024 * 1024;
/// The extension API's only signature format (containers/image `extensionSignature`).
const EXTENSION_SCHEMA_VERSION: u64 = 2;
const EXTENSION_TYPE_ATOMIC: &str = "atomic";

/// Why a registry could not answer what simple signing asked. Every variant names the image
/// or registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("resolving {image} to a manifest digest: {source}")]
    Manifest { image: String, source: FetchError },
    #[error("the manifest of {image} is larger than {MAX_MANIFEST_BYTES} bytes")]
    ManifestTooLarge { image: String },
    #[error("the manifest of {image} is not an OCI or Docker v2 manifest or index: {detail}")]
    ManifestFormat { image: String, detail: String },
    #[error("the registry says {image} is {claimed}, but the manifest it served is {actual}")]
    DigestMismatch {
        image: String,
        claimed: String,
        actual: Digest,
    },
    #[error("resolving {image} stopped unexpectedly")]
    Aborted { image: String },
    #[error(
        "registry {registry} does not serve signatures (its /v2/ answer has no \
         X-Registry-Supports-Signatures: 1) and the policy has no storeURL"
    )]
    NoSignatureApi { registry: String },
    #[error("reading signatures of {image} from the registry: {source}")]
    Signatures { image: String, source: FetchError },
    #[error("the registry's signature list for {image} is invalid: {detail}")]
    SignatureList { image: String, detail: String },
    #[error("reading {what}: {source}")]
    Read { what: String, source: FetchError },
    #[error("{what} is {actual}, not the digest it was asked for")]
    BlobDigest { what: String, actual: Digest },
}

/// Reads from registries with the shared client. Build once; share by reference (a clone
/// shares the client and the caches).
#[derive(Clone)]
pub struct Registry {
    fetcher: Arc<Fetcher>,
    digests: Arc<Coalescer<Key, Result<Digest, RegistryError>>>,
    simple_signatures: Arc<SignatureSets<Vec<u8>>>,
    cosign_signatures: Arc<SignatureSets<portieris_core::cosign::Signature>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    registry: String,
    repository: String,
    tag: String,
    credentials: Vec<Credential>,
}

impl Registry {
    pub fn new(fetcher: Arc<Fetcher>) -> Self {
        Self {
            fetcher,
            digests: Arc::new(
                Coalescer::named("registry_digests", CACHE_ENTRIES)
                    .weighed(CACHE_BYTES, weigh_digest),
            ),
            simple_signatures: Arc::new(SignatureSets::named("simple_signatures", Vec::len)),
            cosign_signatures: Arc::new(SignatureSets::named("cosign_signatures", |s| {
                s.payload.len() + s.signature.as_ref().map_or(0, String::len)
            })),
        }
    }

    /// Simple signing's signature sets, by store or registry, repository, digest and
    /// credentials.
    pub fn simple_signatures(&self) -> &SignatureSets<Vec<u8>> {
        &self.simple_signatures
    }

    /// Cosign's signature sets, by registry, repository, digest and credentials.
    pub fn cosign_signatures(&self) -> &SignatureSets<portieris_core::cosign::Signature> {
        &self.cosign_signatures
    }

    /// The manifest digest of `image`: the one it names, else the one its tag (`latest` if
    /// none) has on the registry now, checked against the bytes served.
    pub async fn digest(
        &self,
        image: &ImageRef,
        credentials: &[Credential],
    ) -> Result<Digest, RegistryError> {
        if let Some(digest) = image.digest() {
            return Ok(digest.clone());
        }
        let key = Key {
            registry: image.domain().to_string(),
            repository: image.path().to_string(),
            tag: image.tag().unwrap_or("latest").to_string(),
            credentials: credentials.to_vec(),
        };
        let fetcher = Arc::clone(&self.fetcher);
        let shown = image.to_string();
        let job = key.clone();
        let run = move || async move {
            let result = resolve(&fetcher, &job).await;
            let ttl = if result.is_ok() {
                DIGEST_TTL
            } else {
                FAILURE_TTL
            };
            (result, ttl)
        };
        self.digests
            .get_or_run(key, run)
            .await
            .unwrap_or(Err(RegistryError::Aborted { image: shown }))
    }

    /// The signatures of `digest` in `image`'s repository from the registry extension API
    /// (`GET /extensions/v2/<repository>/signatures/<digest>`), if the registry advertises
    /// it on `/v2/`. Entries of another schema version or type are skipped, as
    /// containers/image does; at most `max` are kept, each at most `max_bytes`. Not cached
    /// here: simple signing caches the set ([`Registry::simple_signatures`]).
    pub async fn signatures(
        &self,
        image: &ImageRef,
        digest: &Digest,
        credentials: &[Credential],
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, RegistryError> {
        let session = self
            .fetcher
            .session(credentials)
            .limited(MAX_SIGNATURE_LIST_BYTES);
        let base = base_url(image.domain());
        let fetch_failed = |source| RegistryError::Signatures {
            image: image.to_string(),
            source,
        };
        if !supports_signatures(&session, &base)
            .await
            .map_err(fetch_failed)?
        {
            return Err(RegistryError::NoSignatureApi {
                registry: image.domain().to_string(),
            });
        }
        let url = format!("{base}/extensions/v2/{}/signatures/{digest}", image.path());
        let body = match session.get_optional(&url).await {
            Ok(Some(body)) => body,
            Ok(None) => return Ok(Vec::new()),
            Err(source) => return Err(fetch_failed(source)),
        };
        parse_signature_list(&body, max, max_bytes).map_err(|detail| RegistryError::SignatureList {
            image: image.to_string(),
            detail,
        })
    }

    /// The manifest `reference` (a tag) of `repository`, as served (OCI or Docker v2, at most
    /// [`MAX_MANIFEST_BYTES`]); `None` on 404. Not cached here: cosign caches the signature set
    /// read from it ([`Registry::cosign_signatures`]).
    pub async fn manifest(
        &self,
        repository: &ImageRef,
        reference: &str,
        credentials: &[Credential],
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let what = format!("{}:{reference}", repository.name());
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            base_url(repository.domain()),
            repository.path()
        );
        self.fetcher
            .session(credentials)
            .accepting(MANIFEST_ACCEPT)
            .limited(MAX_MANIFEST_BYTES)
            .get_optional(&url)
            .await
            .map_err(|source| RegistryError::Read { what, source })
    }

    /// The blob `digest` of `repository`, at most `max_bytes`, its sha256 checked against
    /// `digest`: the registry is not trusted to serve what was asked for.
    pub async fn blob(
        &self,
        repository: &ImageRef,
        digest: &Digest,
        credentials: &[Credential],
        max_bytes: usize,
    ) -> Result<Vec<u8>, RegistryError> {
        let what = format!("blob {}@{digest}", repository.name());
        let url = format!(
            "{}/v2/{}/blobs/{digest}",
            base_url(repository.domain()),
            repository.path()
        );
        let body = self
            .fetcher
            .session(credentials)
            .limited(max_bytes)
            .get(&url)
            .await
            .map_err(|source| RegistryError::Read {
                what: what.clone(),
                source,
            })?;
        let actual = Digest::from_sha256(&Sha256::digest(&body).into());
        if actual != *digest {
            return Err(RegistryError::BlobDigest { what, actual });
        }
        Ok(body)
    }
}

/// Whether the registry's `/v2/` answer says `X-Registry-Supports-Signatures: 1`
/// (containers/image reads it from the same ping).
async fn supports_signatures(session: &Session<'_>, base: &str) -> Result<bool, FetchError> {
    let ping = session.get_reply(&format!("{base}/v2/")).await?;
    Ok(ping
        .headers
        .get("X-Registry-Supports-Signatures")
        .is_some_and(|v| v.as_bytes() == b"1"))
}

/// A cached digest lookup's weight: the digest's hex, or a failure's message.
fn weigh_digest(result: &Result<Digest, RegistryError>) -> usize {
    match result {
        Ok(digest) => digest.hex().len(),
        Err(error) => error.to_string().len(),
    }
}

/// The registry's API root: Docker Hub's API host is not its image host.
fn base_url(domain: &str) -> String {
    match domain {
        "docker.io" => "https://registry-1.docker.io".to_string(),
        other => format!("https://{other}"),
    }
}

async fn resolve(fetcher: &Fetcher, key: &Key) -> Result<Digest, RegistryError> {
    let image = format!("{}/{}:{}", key.registry, key.repository, key.tag);
    let url = format!(
        "{}/v2/{}/manifests/{}",
        base_url(&key.registry),
        key.repository,
        key.tag
    );
    let reply = fetcher
        .session(&key.credentials)
        .accepting(MANIFEST_ACCEPT)
        .limited(MAX_MANIFEST_BYTES)
        .get_reply(&url)
        .await
        .map_err(|source| RegistryError::Manifest {
            image: image.clone(),
            source,
        })?;
    let claimed = reply
        .headers
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok());
    manifest_digest(&image, &reply.body, claimed)
}

/// The digest of a served manifest: sha256 of its bytes, which must be a v2 manifest or
/// index. `claimed` (`Docker-Content-Digest`) must agree when it is a sha256 digest; other
/// algorithms are not compared (only sha256 is accepted anywhere here, and the bytes decide).
pub fn manifest_digest(
    image: &str,
    body: &[u8],
    claimed: Option<&str>,
) -> Result<Digest, RegistryError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(RegistryError::ManifestTooLarge {
            image: image.to_string(),
        });
    }
    #[derive(Deserialize)]
    struct Versioned {
        #[serde(rename = "schemaVersion")]
        schema_version: u64,
    }
    let format = |detail: String| RegistryError::ManifestFormat {
        image: image.to_string(),
        detail,
    };
    let versioned: Versioned =
        serde_json::from_slice(body).map_err(|e| format(format!("not a manifest: {e}")))?;
    if versioned.schema_version != 2 {
        return Err(format(format!(
            "schemaVersion {}",
            versioned.schema_version
        )));
    }
    let actual = Digest::from_sha256(&Sha256::digest(body).into());
    match claimed {
        Some(claimed) if claimed.starts_with("sha256:") && claimed != actual.to_string() => {
            Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                claimed: claimed.to_string(),
                actual,
            })
        }
        _ => Ok(actual),
    }
}

/// containers/image's `extensionSignatureList`.
#[derive(Deserialize)]
struct SignatureList {
    #[serde(default)]
    signatures: Vec<ExtensionSignature>,
}

#[derive(Deserialize)]
struct ExtensionSignature {
    #[serde(rename = "schemaVersion")]
    schema_version: u64,
    #[serde(rename = "type")]
    kind: String,
    /// base64 of the signature message.
    content: String,
}

/// The signature messages of an extension API answer: atomic schema-2 entries only, at most
/// `max` of them (more is an error, not a silent cut: a list that long is not trusted), each
/// at most `max_bytes`.
pub fn parse_signature_list(
    body: &[u8],
    max: usize,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, String> {
    if body.len() > MAX_SIGNATURE_LIST_BYTES {
        return Err(format!("larger than {MAX_SIGNATURE_LIST_BYTES} bytes"));
    }
    let list: SignatureList =
        serde_json::from_slice(body).map_err(|e| format!("not a signature list: {e}"))?;
    let atomic: Vec<&ExtensionSignature> = list
        .signatures
        .iter()
        .filter(|s| s.schema_version == EXTENSION_SCHEMA_VERSION && s.kind == EXTENSION_TYPE_ATOMIC)
        .collect();
    if atomic.len() > max {
        return Err(format!(
            "{} signatures, more than the {max} accepted",
            atomic.len()
        ));
    }
    atomic
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&s.content)
                .map_err(|e| format!("signature {}: content is not base64: {e}", n + 1))?;
            if bytes.len() > max_bytes {
                return Err(format!(
                    "signature {} is larger than {max_bytes} bytes",
                    n + 1
                ));
            }
            Ok(bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

    fn sha256(body: &[u8]) -> String {
        Digest::from_sha256(&Sha256::digest(body).into()).to_string()
    }

    #[test]
    fn a_manifest_digest_is_the_sha256_of_the_bytes_served() {
        let got = manifest_digest("r/i:v1", INDEX, None).expect("digest");
        assert_eq!(got.to_string(), sha256(INDEX));
        let agreed = manifest_digest("r/i:v1", INDEX, Some(&sha256(INDEX))).expect("agrees");
        assert_eq!(agreed, got);
    }

    #[test]
    fn a_registry_claiming_another_sha256_digest_is_refused() {
        let other = sha256(b"other");
        let why = manifest_digest("r/i:v1", INDEX, Some(&other)).expect_err("mismatch");
        assert!(matches!(why, RegistryError::DigestMismatch { .. }), "{why}");
        assert!(why.to_string().contains(&other), "{why}");
    }

    #[test]
    fn schema_1_and_non_manifests_are_refused() {
        let v1 = br#"{"schemaVersion":1,"name":"i","tag":"v1","signatures":[]}"#;
        let why = manifest_digest("r/i:v1", v1, None).expect_err("schema 1");
        assert!(why.to_string().contains("schemaVersion 1"), "{why}");
        assert!(manifest_digest("r/i:v1", b"<html>", None).is_err());
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(
            manifest_digest("r/i:v1", &big, None),
            Err(RegistryError::ManifestTooLarge { .. })
        ));
    }

    fn entry(version: u64, kind: &str, content: &[u8]) -> serde_json::Value {
        serde_json::json!({"schemaVersion": version, "type": kind, "name": "sha256:x@y",
            "content": base64::engine::general_purpose::STANDARD.encode(content)})
    }

    #[test]
    fn the_signature_list_keeps_atomic_schema_2_entries() {
        let body = serde_json::json!({"signatures": [entry(2, "atomic", b"one"),
            entry(1, "atomic", b"old"), entry(2, "cosign", b"other"), entry(2, "atomic", b"two")]});
        let got = parse_signature_list(body.to_string().as_bytes(), 16, 64).expect("list");
        assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
        let empty = parse_signature_list(b"{}", 16, 64).expect("no signatures field");
        assert!(empty.is_empty());
    }

    #[test]
    fn the_signature_list_is_bounded_in_count_and_size() {
        let many: Vec<_> = (0..17).map(|_| entry(2, "atomic", b"s")).collect();
        let body = serde_json::json!({ "signatures": many }).to_string();
        let why = parse_signature_list(body.as_bytes(), 16, 64).expect_err("count");
        assert!(why.contains("17 signatures"), "{why}");
        let big = serde_json::json!({"signatures": [entry(2, "atomic", &[0; 65])]}).to_string();
        let why = parse_signature_list(big.as_bytes(), 16, 64).expect_err("size");
        assert!(why.contains("larger than 64"), "{why}");
        let bad = r#"{"signatures":[{"schemaVersion":2,"type":"atomic","content":"%%"}]}"#;
        assert!(parse_signature_list(bad.as_bytes(), 16, 64).is_err());
    }
}

//! What simple signing and cosign read from an image's registry (OCI distribution API): the
//! manifest digest a tag names, signatures through the registry signature extension API
//! (`X-Registry-Supports-Signatures`, as OpenShift's registry serves them), and manifests by
//! tag and blobs by digest (hash-checked) for cosign's signature artifacts.
//!
//! Tags are resolved with a `GET` of the manifest and the digest computed by the core
//! ([`portieris_core::registry::manifest`]) from the bytes served: a `HEAD` answer would only
//! carry the registry's claim (`Docker-Content-Digest`), and an admission decision must not
//! rest on a claim it can check. When the registry does send the header, it must agree; its
//! `Content-Type` must not name another format than the manifest. The signature list of the
//! extension API is parsed by the core too ([`portieris_core::registry::signature_list`]).
//!
//! Resolved digests are cached per (registry, repository, tag, credentials) for a short time,
//! failures for a few seconds; concurrent identical lookups share one fetch. Credentials are
//! part of the key: a namespace that cannot read a private repository must not learn its
//! digests through another namespace's lookup.
//!
//! The [`Registry`] also holds the caches of fetched signature sets, simple signing's (from
//! the extension API or a lookaside store) and cosign's (see [`super::signature_sets`]): it is
//! the one reader simple signing and cosign share.

use std::sync::Arc;
use std::time::Duration;

use portieris_core::registry::manifest::{MANIFEST_ACCEPT, MAX_MANIFEST_BYTES};
use portieris_core::registry::signature_list::MAX_SIGNATURE_LIST_BYTES;
use portieris_core::registry::{
    ManifestError, SignatureListError, parse_manifest, parse_signature_list,
};
use portieris_core::{Digest, ImageRef};
use reqwest::header::CONTENT_TYPE;
use sha2::{Digest as _, Sha256};

use super::coalesce::Coalescer;
use super::signature_sets::SignatureSets;
use super::{Credential, FetchError, Fetcher, Session};

/// How long a tag's digest is reused: tags move, so briefly.
pub const DIGEST_TTL: Duration = Duration::from_secs(30);
/// Failures are remembered this long: a burst of pods with a broken image costs one fetch.
const FAILURE_TTL: Duration = Duration::from_secs(5);
const CACHE_ENTRIES: usize = 10_000;
/// Bytes of cached digests (64 hex digits each, so 10,000 are 640 KiB) and failures (weighed
/// by their message): the entry bound comes first unless many failures quote long messages.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Why a registry could not answer what simple signing asked. Every variant names the image
/// or registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("resolving {image} to a manifest digest: {source}")]
    Manifest { image: String, source: FetchError },
    /// The manifest served is refused by the core: too large, not a v2 manifest or index,
    /// contradicted by its `Content-Type`, or not the digest the registry claims.
    #[error("resolving {image}: {source}")]
    ManifestInvalid {
        image: String,
        source: ManifestError,
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
    #[error("the registry's signature list for {image} is invalid: {source}")]
    SignatureList {
        image: String,
        source: SignatureListError,
    },
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
    cosign_attestations: Arc<SignatureSets<Vec<u8>>>,
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
            cosign_attestations: Arc::new(SignatureSets::named("cosign_attestations", Vec::len)),
        }
    }

    /// The HTTP client, for requests this reader has no method for (the referrers API).
    pub(crate) fn fetcher(&self) -> &Fetcher {
        &self.fetcher
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

    /// Cosign's legacy attestation sets (the `.att` tag's DSSE envelopes), keyed as
    /// [`Registry::cosign_signatures`].
    pub fn cosign_attestations(&self) -> &SignatureSets<Vec<u8>> {
        &self.cosign_attestations
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
        parse_signature_list(&body, max, max_bytes).map_err(|source| RegistryError::SignatureList {
            image: image.to_string(),
            source,
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
pub(crate) fn base_url(domain: &str) -> String {
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
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok());
    let (content_type, claimed) = (
        header(CONTENT_TYPE.as_str()),
        header("Docker-Content-Digest"),
    );
    parse_manifest(&reply.body, content_type, claimed)
        .map(|manifest| manifest.digest)
        .map_err(|source| RegistryError::ManifestInvalid { image, source })
}

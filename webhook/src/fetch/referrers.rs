//! OCI 1.1 referrers of an image, of one artifact type, with their blobs: what Sigstore
//! bundles (cosign v3), Notation signatures and attestations are read from.
//!
//! For an image digest and an artifact type:
//!
//! 1. `GET /v2/<name>/referrers/<digest>?artifactType=<type>` (the referrers API). A 404, or an
//!    answer that is not an OCI image index (a registry without the API answering something
//!    else), falls back to
//! 2. `GET /v2/<name>/manifests/sha256-<hex>`: the index clients keep at that tag on registries
//!    without the API (the tag schema); a 404 there means no referrers.
//! 3. The index is filtered again by the core ([`referrers::select`]): registries may ignore
//!    the `artifactType` filter (they say so by leaving it out of `OCI-Filters-Applied`), and
//!    some report the config's media type instead of the artifact type; entries of unknown
//!    type are read to learn theirs. More candidates than [`Bounds::max_referrers`] fail with
//!    [`Cause::TooLarge`]: which ones to drop would be the registry's choice. Only the first
//!    page of a paginated answer (`Link: …; rel="next"`) is read: more referrers than fit in
//!    one page is past the bounds anyway.
//! 4. Each candidate's manifest is fetched by digest (read no further than its listed size)
//!    and read by the core
//!    ([`referrers::parse_referrer`]): its bytes must be the digest and size listed, its
//!    `subject` the image, its type the one asked for; then each layer's blob, its sha256 and
//!    size checked, at most [`Bounds::max_blob_bytes`] each and [`Bounds::max_total_bytes`] in
//!    all. A referrer that fails any check fails the whole read ([`Cause::Unreadable`], or
//!    [`Cause::TooLarge`] past a bound): the formats' verifiers never see a partial set.
//!
//! Results (bytes, not verdicts) are cached like the signature sets
//! ([`super::signature_sets`]): per registry, repository, digest, artifact type and
//! credentials; 30 s, an empty set or a failure 5 s, a set over 64 KiB not at all; concurrent
//! identical reads share one fetch.

use std::sync::Arc;

use futures::future::try_join_all;
use portieris_core::evidence::{Cause, FetchFailure};
use portieris_core::registry::manifest::{MANIFEST_ACCEPT, MAX_MANIFEST_BYTES};
use portieris_core::registry::referrers::{
    self, Blob, Descriptor, INDEX_MEDIA_TYPE, MAX_REFERRER_BLOB_BYTES, MAX_REFERRER_LAYERS,
    MAX_REFERRERS, Referrer, ReferrerManifest, ReferrersError,
};
use portieris_core::{Digest, ImageRef};
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;

use super::coalesce::Coalescer;
use super::registry::{Registry, base_url};
use super::signature_sets::{self, SET_BYTES, SET_ENTRIES};
use super::{Credential, FetchError, Reply};
use crate::evidence::failure;

/// Default of [`Bounds::max_total_bytes`]: the blobs of one read, all together (a few
/// attestation bundles with SBOMs).
pub const MAX_TOTAL_BYTES: usize = 16 * 1024 * 1024;

/// How much one read may fetch. Past any bound the read fails with [`Cause::TooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Referrers that may be of the type (manifests fetched).
    pub max_referrers: usize,
    /// Layers of one referrer.
    pub max_layers: usize,
    /// Bytes of one blob.
    pub max_blob_bytes: usize,
    /// Bytes of all the blobs of one read.
    pub max_total_bytes: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_referrers: MAX_REFERRERS,
            max_layers: MAX_REFERRER_LAYERS,
            max_blob_bytes: MAX_REFERRER_BLOB_BYTES,
            max_total_bytes: MAX_TOTAL_BYTES,
        }
    }
}

/// A read's result, as cached.
type Fetched = Result<Arc<[Referrer]>, FetchFailure>;

/// Everything a read depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    registry: String,
    repository: String,
    digest: Digest,
    artifact_type: String,
    credentials: Vec<Credential>,
}

/// Reads referrers through a [`Registry`]'s client. Build once; share by reference (a clone
/// shares the client and the cache).
#[derive(Clone)]
pub struct Referrers {
    registry: Registry,
    bounds: Bounds,
    sets: Arc<Coalescer<Key, Fetched>>,
}

impl Referrers {
    /// Reads with the default [`Bounds`].
    pub fn new(registry: Registry) -> Self {
        Self::bounded(registry, Bounds::default())
    }

    /// Reads within `bounds`.
    pub fn bounded(registry: Registry, bounds: Bounds) -> Self {
        Self {
            registry,
            bounds,
            sets: Arc::new(Coalescer::named("referrers", SET_ENTRIES).weighed(SET_BYTES, weigh)),
        }
    }

    /// The referrers of `digest` in `image`'s repository whose type is `artifact_type`, each
    /// with its blobs, in manifest digest order; empty when there are none. `credentials`
    /// (the pod's pull Secrets for the registry) authenticate every request. Cached.
    pub async fn fetch(
        &self,
        image: &ImageRef,
        digest: &Digest,
        artifact_type: &str,
        credentials: &[Credential],
    ) -> Result<Arc<[Referrer]>, FetchFailure> {
        let key = Key {
            registry: image.domain().to_string(),
            repository: image.path().to_string(),
            digest: digest.clone(),
            artifact_type: artifact_type.to_string(),
            credentials: credentials.to_vec(),
        };
        let aborted = FetchFailure::new(
            Cause::Unavailable,
            format!(
                "reading the {artifact_type} referrers of {}@{digest} stopped unexpectedly",
                image.name()
            ),
        );
        let (registry, bounds, image, job) = (
            self.registry.clone(),
            self.bounds,
            image.clone(),
            key.clone(),
        );
        let run = move || async move {
            let result = read(&registry, bounds, &image, &job)
                .await
                .map(Arc::<[Referrer]>::from);
            let ttl = signature_sets::ttl(&result, Referrer::weight);
            (result, ttl)
        };
        self.sets.get_or_run(key, run).await.unwrap_or(Err(aborted))
    }
}

/// A cached read's weight: its blobs' bytes, or a failure's message.
fn weigh(fetched: &Fetched) -> usize {
    match fetched {
        Ok(set) => set.iter().map(Referrer::weight).sum(),
        Err(failure) => failure.message.len(),
    }
}

/// [`Referrers::fetch`] uncached.
async fn read(
    registry: &Registry,
    bounds: Bounds,
    image: &ImageRef,
    key: &Key,
) -> Result<Vec<Referrer>, FetchFailure> {
    let subject = &key.digest;
    let shown = format!("{}@{subject}", image.name());
    let refused = |error| refusal(&format!("the referrers of {shown}"), &error);
    let entries = match index(registry, image, key).await? {
        Some(entries) => entries,
        None => return Ok(Vec::new()),
    };
    let candidates =
        referrers::select(&entries, &key.artifact_type, bounds.max_referrers).map_err(refused)?;
    // try_join_all keeps the order (by digest), and stops at the first failure.
    let manifests = try_join_all(candidates.iter().map(|(listed, _)| async {
        let body = listed_manifest(registry, image, listed, &key.credentials)
            .await?
            .ok_or_else(|| {
                FetchFailure::new(
                    Cause::NotFound,
                    format!(
                        "the referrer {} of {shown} is listed but not served",
                        listed.digest
                    ),
                )
            })?;
        referrers::parse_referrer(
            &body,
            listed,
            subject,
            &key.artifact_type,
            bounds.max_layers,
            bounds.max_blob_bytes,
        )
        .map_err(refused)
    }))
    .await?;
    let manifests: Vec<ReferrerManifest> = manifests.into_iter().flatten().collect();
    let total: usize = manifests
        .iter()
        .flat_map(|m| &m.layers)
        .map(|l| l.size)
        .sum();
    if total > bounds.max_total_bytes {
        return Err(FetchFailure::new(
            Cause::TooLarge,
            format!(
                "the {} referrers of {shown} hold {total} bytes, more than {}",
                key.artifact_type, bounds.max_total_bytes
            ),
        ));
    }
    try_join_all(
        manifests
            .into_iter()
            .map(|manifest| blobs(registry, image, key, manifest)),
    )
    .await
}

/// The entries of the referrers index of `key.digest`: the referrers API's, else the fallback
/// tag's; `None` when neither exists.
async fn index(
    registry: &Registry,
    image: &ImageRef,
    key: &Key,
) -> Result<Option<Vec<Descriptor>>, FetchFailure> {
    let shown = format!("{}@{}", image.name(), key.digest);
    let unreadable = |what: &str, error| refusal(&format!("the {what} of {shown}"), &error);
    if let Some(reply) = referrers_api(registry, image, key).await? {
        let is_index = reply
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(INDEX_MEDIA_TYPE));
        match referrers::parse_index(&reply.body) {
            Ok(entries) => {
                tracing::debug!(image = %shown, entries = entries.len(),
                    filtered = ?reply.headers.get("OCI-Filters-Applied"), "referrers API");
                return Ok(Some(entries));
            }
            // Served as an index, and not one: the registry has the API and is wrong.
            Err(error) if is_index => return Err(unreadable("referrers index", error)),
            // Something else (a registry without the API answering 200): the tag schema.
            Err(_) => {}
        }
    }
    let tag = referrers::fallback_tag(&key.digest);
    let body = registry
        .manifest(image, &tag, &key.credentials)
        .await
        .map_err(|e| failure::registry(&e))?;
    tracing::debug!(image = %shown, found = body.is_some(), "referrers tag schema");
    body.map(|body| referrers::parse_index(&body))
        .transpose()
        .map_err(|e| unreadable(&format!("referrers index at tag {tag}"), e))
}

/// The referrers API's answer; `None` on 404 (a registry without the API, or a repository it
/// does not know).
async fn referrers_api(
    registry: &Registry,
    image: &ImageRef,
    key: &Key,
) -> Result<Option<Reply>, FetchFailure> {
    let text = format!(
        "{}/v2/{}/referrers/{}",
        base_url(image.domain()),
        image.path(),
        key.digest
    );
    let mut url = Url::parse(&text)
        .map_err(|e| FetchFailure::new(Cause::Unreadable, format!("{text}: not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("artifactType", &key.artifact_type);
    let reply = registry
        .fetcher()
        .session(&key.credentials)
        .accepting(INDEX_MEDIA_TYPE)
        .limited(MAX_MANIFEST_BYTES)
        .get_reply(url.as_str())
        .await;
    match reply {
        Ok(reply) => Ok(Some(reply)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(fetch_failed(&error)),
    }
}

/// The manifest `listed` names, read no further than its listed size (a registry serving
/// more is refused with [`Cause::TooLarge`] without reading it all); `None` on 404.
async fn listed_manifest(
    registry: &Registry,
    image: &ImageRef,
    listed: &Descriptor,
    credentials: &[Credential],
) -> Result<Option<Vec<u8>>, FetchFailure> {
    let limit = usize::try_from(listed.size)
        .unwrap_or(usize::MAX)
        .min(MAX_MANIFEST_BYTES);
    let url = format!(
        "{}/v2/{}/manifests/{}",
        base_url(image.domain()),
        image.path(),
        listed.digest
    );
    registry
        .fetcher()
        .session(credentials)
        .accepting(MANIFEST_ACCEPT)
        .limited(limit)
        .get_optional(&url)
        .await
        .map_err(|e| fetch_failed(&e))
}

/// The blobs of one referrer, in layer order, each checked against its digest and size.
async fn blobs(
    registry: &Registry,
    image: &ImageRef,
    key: &Key,
    manifest: ReferrerManifest,
) -> Result<Referrer, FetchFailure> {
    let blobs = try_join_all(manifest.layers.into_iter().map(|layer| async move {
        let bytes = registry
            .blob(image, &layer.digest, &key.credentials, layer.size)
            .await
            .map_err(|e| failure::registry(&e))?;
        if bytes.len() != layer.size {
            return Err(FetchFailure::new(
                Cause::Unreadable,
                format!(
                    "blob {}@{} is {} bytes, listed as {}",
                    image.name(),
                    layer.digest,
                    bytes.len(),
                    layer.size
                ),
            ));
        }
        Ok(Blob {
            media_type: layer.media_type,
            digest: layer.digest,
            bytes,
        })
    }))
    .await?;
    Ok(Referrer {
        artifact_type: manifest.artifact_type,
        manifest_digest: manifest.digest,
        annotations: manifest.annotations,
        blobs,
    })
}

/// The core's refusal of what `context` names: past a bound, [`Cause::TooLarge`]; else
/// [`Cause::Unreadable`].
fn refusal(context: &str, error: &ReferrersError) -> FetchFailure {
    let cause = if error.is_bound() {
        Cause::TooLarge
    } else {
        Cause::Unreadable
    };
    FetchFailure::new(cause, format!("{context}: {error}"))
}

fn fetch_failed(error: &FetchError) -> FetchFailure {
    FetchFailure::new(failure::cause(error), error.to_string())
}

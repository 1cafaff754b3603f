//! Gathers the material images need from the upstreams their policies name, with the
//! credentials of the pod's pull Secrets: one fetcher per format (`trust`, `simple`,
//! `cosign`, `sigstore`, `attestation`, `notation`), each bringing back bytes or a typed failure. Nothing here judges a signature:
//! the core does, in `finish`.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::{BoxFuture, join_all};
use portieris_core::ImageRef;
use portieris_core::evidence::{Cause, FetchFailure, Gathered, Material, Need};
use portieris_core::policy::Secret;
use portieris_core::verdict::Requirements;

use crate::admit::{Gather, Scope};
use crate::config;
use crate::fetch::docker_config::{self, Credential};
use crate::fetch::referrers::Referrers;
use crate::fetch::registry::Registry;
use crate::fetch::trust_server::{TrustServerError, TrustServers};
use crate::fetch::{FetchConfig, Fetcher, SetupError};
use crate::trust::Trust;

pub mod attestation;
pub mod cosign;
pub(crate) mod failure;
pub mod notation;
pub mod sigstore;
pub mod simple;
pub mod trust;

/// Why the gatherer could not be built from its flags.
#[derive(Debug, thiserror::Error)]
pub enum GathererError {
    #[error(transparent)]
    Fetch(#[from] SetupError),
    #[error(transparent)]
    TrustServers(#[from] TrustServerError),
}

/// The production gatherer: one HTTP client, the trust, tag-digest and signature caches.
pub struct Gatherer {
    trust: Trust,
    registry: Registry,
    referrers: Referrers,
    /// Shared with `trust` and `registry`: lookaside stores are read with the same client.
    fetcher: Arc<Fetcher>,
}

impl Gatherer {
    pub fn new(fetch: &config::Fetch) -> Result<Self, GathererError> {
        let mut config = FetchConfig::new(fetch.timeout, fetch.ca_file.clone());
        config.max_bytes_in_flight = fetch.max_bytes_in_flight;
        let fetcher = Arc::new(Fetcher::new(&config)?);
        let servers = TrustServers::new(fetch.trust_servers.clone())?;
        let registry = Registry::new(Arc::clone(&fetcher));
        Ok(Self {
            trust: Trust::new(Arc::clone(&fetcher), servers, fetch.trust_cache_ttl),
            referrers: Referrers::new(registry.clone()),
            registry,
            fetcher,
        })
    }

    async fn one(
        &self,
        need: &Need,
        image: &ImageRef,
        credentials: &[Credential],
        secrets: &[&Secret],
    ) -> Gathered {
        match need {
            Need::Trust(need) => trust::gather(&self.trust, need, image, credentials).await,
            Need::TagDigest => self
                .registry
                .digest(&image.without_digest(), credentials)
                .await
                .map(Material::TagDigest)
                .map_err(|e| failure::registry(&e)),
            Need::Simple(need) => {
                simple::gather(&self.registry, &self.fetcher, need, image, credentials).await
            }
            Need::Cosign(need) => {
                let store =
                    store_credentials(need.repository.as_ref(), image, credentials, secrets);
                cosign::gather(&self.registry, need, image, credentials, &store).await
            }
            Need::Sigstore(need) => {
                let store =
                    store_credentials(need.repository.as_ref(), image, credentials, secrets);
                let (registry, referrers) = (&self.registry, &self.referrers);
                sigstore::gather(registry, referrers, need, image, credentials, &store).await
            }
            Need::Attestation(need) => {
                let store =
                    store_credentials(need.repository.as_ref(), image, credentials, secrets);
                let (registry, referrers) = (&self.registry, &self.referrers);
                attestation::gather(registry, referrers, need, image, credentials, &store).await
            }
            Need::Notation(_) => {
                notation::gather(&self.registry, &self.referrers, image, credentials).await
            }
            _ => Err(FetchFailure::new(
                Cause::Unavailable,
                "this build cannot gather that evidence",
            )),
        }
    }
}

/// Signatures in another registry (`cosign.repository`) are read with the pull Secrets'
/// credentials for that registry.
fn store_credentials(
    repository: Option<&ImageRef>,
    image: &ImageRef,
    credentials: &[Credential],
    secrets: &[&Secret],
) -> Vec<Credential> {
    let store = repository.unwrap_or(image);
    if store.domain() == image.domain() {
        credentials.to_vec()
    } else {
        docker_config::credentials(store.domain(), secrets.iter().copied())
    }
}

impl Gather for Gatherer {
    fn gather<'a>(
        &'a self,
        scope: Scope<'a>,
        requirements: &'a Requirements,
    ) -> BoxFuture<'a, Vec<Gathered>> {
        let namespace = &scope.request.namespace;
        let secrets: Vec<&Secret> = scope
            .pull_secrets
            .iter()
            .filter_map(|name| scope.policies.secret(namespace, name))
            .collect();
        let credentials =
            docker_config::credentials(requirements.image.domain(), secrets.iter().copied());
        async move {
            let image = &requirements.image;
            join_all(
                requirements
                    .needs
                    .iter()
                    .map(|need| self.one(need, image, &credentials, &secrets)),
            )
            .await
        }
        .boxed()
    }
}

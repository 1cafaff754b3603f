//! Gathers the evidence images need from the upstreams their policies name: Notary trust data
//! and simple signatures (from lookaside stores or the registry), with the credentials of the
//! pod's pull Secrets.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::{BoxFuture, join_all};
use portieris_core::ImageRef;
use portieris_core::evidence::{Evidence, Need};
use portieris_core::policy::Secret;
use portieris_core::verdict::Requirements;

use crate::admit::{Gather, Scope};
use crate::cli::FetchArgs;
use crate::fetch::docker_config::{self, Credential};
use crate::fetch::registry::Registry;
use crate::fetch::trust_server::{TrustServerError, TrustServers};
use crate::fetch::{FetchConfig, Fetcher, SetupError};
use crate::trust::Trust;

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
    /// Shared with `trust` and `registry`: lookaside stores are read with the same client.
    fetcher: Arc<Fetcher>,
}

impl Gatherer {
    pub fn new(args: &FetchArgs) -> Result<Self, GathererError> {
        let mut config = FetchConfig::new(args.fetch_timeout, args.ca_file.clone());
        config.max_bytes_in_flight =
            usize::try_from(args.max_fetch_bytes_in_flight).unwrap_or(usize::MAX);
        let fetcher = Arc::new(Fetcher::new(&config)?);
        let servers = TrustServers::new(args.trust_servers.clone())?;
        Ok(Self {
            trust: Trust::new(Arc::clone(&fetcher), servers, args.trust_cache_ttl),
            registry: Registry::new(Arc::clone(&fetcher)),
            fetcher,
        })
    }

    async fn one(
        &self,
        need: &Need,
        image: &ImageRef,
        credentials: &[Credential],
        secrets: &[&Secret],
    ) -> Evidence {
        match need {
            Need::Trust(trust) => {
                // By tag: the target of the tag is verified, and the core compares it with the
                // digest the image names.
                let by_tag = trust.by_tag.then(|| image.without_digest());
                self.trust
                    .verify(
                        by_tag.as_ref().unwrap_or(image),
                        trust.server.as_deref(),
                        &trust.signers,
                        credentials,
                    )
                    .await
                    .map(|verified| verified.digest.clone())
                    .map_err(|e| e.to_string())
            }
            Need::TagDigest => self
                .registry
                .digest(&image.without_digest(), credentials)
                .await
                .map_err(|e| e.to_string()),
            Need::Simple(simple) => {
                crate::simple::verify(&self.registry, &self.fetcher, simple, image, credentials)
                    .await
            }
            Need::Cosign(cosign) => {
                // Signatures in another registry are read with the pull Secrets' credentials
                // for that registry.
                let store = cosign.repository.as_ref().unwrap_or(image);
                let store_credentials = if store.domain() == image.domain() {
                    credentials.to_vec()
                } else {
                    docker_config::credentials(store.domain(), secrets.iter().copied())
                };
                crate::cosign::verify(
                    &self.registry,
                    cosign,
                    image,
                    credentials,
                    &store_credentials,
                )
                .await
            }
            _ => Err(String::from("this build cannot gather that evidence")),
        }
    }
}

impl Gather for Gatherer {
    fn gather<'a>(
        &'a self,
        scope: Scope<'a>,
        requirements: &'a Requirements,
    ) -> BoxFuture<'a, Vec<Evidence>> {
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

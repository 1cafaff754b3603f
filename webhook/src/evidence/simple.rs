//! Simple signing's material: the manifest digest of an image (the one it names, else its
//! tag's on the registry) and the signatures of that digest, read from the policy's lookaside
//! store or, without one, from the registry signature extension API. The core verifies them.
//!
//! The signatures read are cached per (store URL or registry, repository, digest, store or pull
//! credentials): 30 s, an empty set or a failure 5 s; concurrent reads of one set share one
//! fetch ([`crate::fetch::signature_sets`]). They are verified again for every admission.

use std::sync::Arc;

use portieris_core::evidence::{FetchFailure, Gathered, Material, SimpleNeed};
use portieris_core::simple::openpgp;
use portieris_core::{Digest, ImageRef};

use super::failure;
use crate::fetch::docker_config::Credential;
use crate::fetch::registry::Registry;
use crate::fetch::signature_sets::{SetKey, Source};
use crate::fetch::{FetchError, Fetcher};

/// Most signatures read for one image (`signature-1` … `signature-16`, or from the registry).
pub const MAX_SIGNATURES: usize = 16;

/// Gathers what one need asks for: the digest and its signatures. `credentials` (the pod's
/// pull Secrets for the image's registry) authenticate to the registry; the store has its own.
/// `fetcher` reads the store; the signatures read are cached in `registry`.
pub async fn gather(
    registry: &Registry,
    fetcher: &Arc<Fetcher>,
    need: &SimpleNeed,
    image: &ImageRef,
    credentials: &[Credential],
) -> Gathered {
    let digest = failure::digest(registry, image, credentials).await?;
    let signatures = signatures(registry, fetcher, need, image, &digest, credentials).await?;
    Ok(Material::Simple { digest, signatures })
}

/// The signatures of `digest`: from the lookaside store if the need names one, else from the
/// registry extension API; cached.
async fn signatures(
    registry: &Registry,
    fetcher: &Arc<Fetcher>,
    need: &SimpleNeed,
    image: &ImageRef,
    digest: &Digest,
    credentials: &[Credential],
) -> Result<Arc<[Vec<u8>]>, FetchFailure> {
    let sets = registry.simple_signatures();
    // Read as `repository@digest`: a cached failure names the set it is about, not the tag of
    // whichever admission read it first.
    let image = ImageRef::parse(&image.pinned(digest)).unwrap_or_else(|_| image.clone());
    let digest = digest.clone();
    match &need.store_url {
        Some(store) => {
            let auth = need.store_auth.clone();
            let key = SetKey {
                source: Source::Store(store.trim_end_matches('/').to_string()),
                repository: image.path().to_string(),
                digest: digest.clone(),
                credentials: store_credentials(auth.as_ref()),
            };
            let (fetcher, store) = (Arc::clone(fetcher), store.clone());
            sets.get_or_fetch(key, move || async move {
                lookaside(&fetcher, &store, auth.as_ref(), &image, &digest).await
            })
            .await
        }
        None => {
            let key = SetKey {
                source: Source::Registry(image.domain().to_string()),
                repository: image.path().to_string(),
                digest: digest.clone(),
                credentials: credentials.to_vec(),
            };
            let (registry, credentials) = (registry.clone(), key.credentials.clone());
            sets.get_or_fetch(key, move || async move {
                let max = openpgp::MAX_MESSAGE;
                registry
                    .signatures(&image, &digest, &credentials, MAX_SIGNATURES, max)
                    .await
                    .map_err(|e| failure::registry(&e))
            })
            .await
        }
    }
}

/// The store's basic-auth credentials, as the shared session takes them.
fn store_credentials(auth: Option<&Credential>) -> Vec<Credential> {
    auth.cloned().into_iter().collect()
}

/// `<store>/<repository path>@sha256=<hex>/signature-N`, N = 1.. until the first 404, at most
/// [`MAX_SIGNATURES`]. Any other failure is an error: a store that cannot be read denies.
/// Not cached: [`gather`] caches what it returns.
pub async fn lookaside(
    fetcher: &Fetcher,
    store: &str,
    auth: Option<&Credential>,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Vec<Vec<u8>>, FetchFailure> {
    let credentials = store_credentials(auth);
    let session = fetcher.session(&credentials).limited(openpgp::MAX_MESSAGE);
    let base = signature_dir(store, image, digest);
    let mut signatures = Vec::new();
    for n in 1..=MAX_SIGNATURES {
        let url = format!("{base}/signature-{n}");
        match session.get_optional(&url).await {
            Ok(Some(body)) => signatures.push(body),
            Ok(None) => break,
            Err(e) => return Err(store_error(&e, auth.is_some())),
        }
    }
    Ok(signatures)
}

/// A store's refusal speaks of the policy's `storeSecret`, not of pull Secrets (the shared
/// session words it for registries).
fn store_error(error: &FetchError, has_secret: bool) -> FetchFailure {
    let message = match error {
        FetchError::Auth { url, .. } if has_secret => format!(
            "the signature store did not accept the storeSecret credentials (sent over https, \
             or plain http to loopback, only): {url}"
        ),
        FetchError::Auth { url, .. } => format!(
            "the signature store requires credentials and the policy has no storeSecret: {url}"
        ),
        other => format!("reading signatures: {other}"),
    };
    FetchFailure::new(failure::cause(error), message)
}

/// The lookaside folder of one manifest (containers/image's layout).
pub fn signature_dir(store: &str, image: &ImageRef, digest: &Digest) -> String {
    format!(
        "{}/{}@{}={}",
        store.trim_end_matches('/'),
        image.path(),
        digest.algorithm(),
        digest.hex()
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use portieris_core::evidence::{self, Need, SignedBy};
    use portieris_core::simple::IdentityRule;

    use super::*;
    use crate::fetch::FetchConfig;
    use crate::fetch::test_server::{Canned, FakeServer};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures/simple");

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{path}")).expect("fixture")
    }

    /// The image the core vectors sign (`127.0.0.1:5000/test/signed:v1`), named by the signed
    /// digest.
    fn image() -> (ImageRef, Digest) {
        let digests = String::from_utf8(fixture("digests.txt")).expect("utf-8");
        let d = digests
            .lines()
            .find_map(|l| l.strip_prefix("image "))
            .expect("image digest");
        let image = ImageRef::parse(&format!("127.0.0.1:5000/test/signed:v1@{d}")).expect("ref");
        (image, Digest::parse(d).expect("digest"))
    }

    fn need(store: &str, auth: Option<Credential>) -> SimpleNeed {
        SimpleNeed {
            requirements: vec![SignedBy {
                key_secret: "team/key".into(),
                keyring: fixture("keys/rsa.asc"),
                identity: IdentityRule::MatchRepoDigestOrExact,
            }],
            store_url: Some(store.into()),
            store_auth: auth,
        }
    }

    fn fetcher() -> Arc<Fetcher> {
        Arc::new(Fetcher::new(&FetchConfig::new(Duration::from_secs(5), None)).expect("client"))
    }

    /// What the core makes of what [`gather`] brings back, with a fresh client, without pull
    /// credentials.
    async fn check(need: &SimpleNeed, image: &ImageRef) -> Result<Digest, String> {
        let fetcher = fetcher();
        let registry = Registry::new(Arc::clone(&fetcher));
        verified(
            need,
            image,
            gather(&registry, &fetcher, need, image, &[]).await,
        )
    }

    /// The core's verdict on gathered material, as text.
    fn verified(need: &SimpleNeed, image: &ImageRef, gathered: Gathered) -> Result<Digest, String> {
        let need = Need::Simple(need.clone());
        evidence::verify(&need, image, &gathered, crate::clock::now())
            .cloned()
            .map_err(|r| r.text)
    }

    /// A store holding `signatures` (as signature-1, -2, …) for the image's digest.
    async fn store(signatures: Vec<Vec<u8>>, basic: Option<&'static str>) -> FakeServer {
        let (_, digest) = image();
        let dir = format!("/test/signed@sha256={}/signature-", digest.hex());
        FakeServer::start(move |seen| {
            if let Some(expected) = basic
                && seen.authorization.as_deref() != Some(expected)
            {
                return Canned::status(401).header("WWW-Authenticate", "Basic realm=\"store\"");
            }
            let n: Option<usize> = seen.path.strip_prefix(&dir).and_then(|n| n.parse().ok());
            match n.and_then(|n| signatures.get(n.wrapping_sub(1))) {
                Some(body) => Canned::ok(body.clone()),
                None => Canned::status(404),
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_lookaside_signature_admits_at_the_image_digest() {
        let server = store(
            vec![
                fixture("sigs/other-right.sig"),
                fixture("sigs/rsa-right.sig"),
            ],
            None,
        )
        .await;
        let (image, digest) = image();
        let got = check(&need(&server.url(), None), &image).await;
        assert_eq!(got, Ok(digest));
        // signature-1, -2, then the 404 that ends the list.
        assert_eq!(server.requests(), 3);
    }

    #[tokio::test]
    async fn a_store_needing_basic_auth_is_read_with_the_store_secret() {
        // base64("user:pass")
        let server = store(
            vec![fixture("sigs/rsa-right.sig")],
            Some("Basic dXNlcjpwYXNz"),
        )
        .await;
        let (image, digest) = image();
        let auth = Credential {
            username: "user".into(),
            password: "pass".into(),
        };
        let got = check(&need(&server.url(), Some(auth)), &image).await;
        assert_eq!(got, Ok(digest));
        let denied = check(&need(&server.url(), None), &image).await;
        assert!(denied.is_err(), "{denied:?}");
    }

    #[tokio::test]
    async fn an_empty_store_or_a_wrong_signature_denies() {
        let (image, _) = image();
        let empty = store(Vec::new(), None).await;
        let why = check(&need(&empty.url(), None), &image)
            .await
            .expect_err("none");
        assert!(why.contains("no simple signatures"), "{why}");
        let wrong = store(vec![fixture("sigs/rsa-other-digest.sig")], None).await;
        let why = check(&need(&wrong.url(), None), &image)
            .await
            .expect_err("digest");
        assert!(why.contains("expected sha256:"), "{why}");
    }

    /// [`gather`] against one registry and client, as the webhook does across admissions.
    struct Shared {
        registry: Registry,
        fetcher: Arc<Fetcher>,
    }

    impl Shared {
        fn new() -> Self {
            let fetcher = fetcher();
            Self {
                registry: Registry::new(Arc::clone(&fetcher)),
                fetcher,
            }
        }

        async fn check(&self, need: &SimpleNeed, image: &ImageRef) -> Result<Digest, String> {
            let gathered = gather(&self.registry, &self.fetcher, need, image, &[]).await;
            verified(need, image, gathered)
        }
    }

    #[tokio::test]
    async fn a_second_admission_verifies_the_cached_signatures_without_reading_the_store() {
        let server = store(vec![fixture("sigs/rsa-right.sig")], None).await;
        let (image, digest) = image();
        let shared = Shared::new();
        let need = need(&server.url(), None);
        assert_eq!(shared.check(&need, &image).await, Ok(digest.clone()));
        assert_eq!(server.requests(), 2, "signature-1, then the 404");
        assert_eq!(shared.check(&need, &image).await, Ok(digest));
        assert_eq!(server.requests(), 2, "{:?}", server.paths());
        // Verified again, not a cached verdict: a key that did not sign still denies.
        let mut other_key = need.clone();
        other_key.requirements[0].keyring = fixture("keys/other.asc");
        let why = shared
            .check(&other_key, &image)
            .await
            .expect_err("another key");
        assert!(why.contains("team/key"), "{why}");
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn signatures_read_with_one_store_secret_are_not_served_to_another() {
        // base64("user:pass")
        let server = store(
            vec![fixture("sigs/rsa-right.sig")],
            Some("Basic dXNlcjpwYXNz"),
        )
        .await;
        let (image, digest) = image();
        let auth = |password: &str| Credential {
            username: "user".into(),
            password: password.into(),
        };
        let shared = Shared::new();
        let right = need(&server.url(), Some(auth("pass")));
        assert_eq!(shared.check(&right, &image).await, Ok(digest.clone()));
        let read = server.requests();
        for other in [None, Some(auth("wrong"))] {
            let denied = shared.check(&need(&server.url(), other), &image).await;
            let why = denied.expect_err("not the cached signatures");
            assert!(why.contains("signature store"), "{why}");
        }
        assert!(server.requests() > read, "the others asked the store");
        let asked = server.requests();
        assert_eq!(shared.check(&right, &image).await, Ok(digest));
        assert_eq!(
            server.requests(),
            asked,
            "the right secret's read is cached"
        );
    }

    #[tokio::test]
    async fn an_image_signed_after_a_deny_is_admitted_once_the_short_ttl_passes() {
        let (image, digest) = image();
        let signed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dir = format!("/test/signed@sha256={}/signature-1", digest.hex());
        let server = {
            let signed = Arc::clone(&signed);
            let signature = fixture("sigs/rsa-right.sig");
            FakeServer::start(move |seen| {
                if seen.path == dir && signed.load(std::sync::atomic::Ordering::SeqCst) {
                    Canned::ok(signature.clone())
                } else {
                    Canned::status(404)
                }
            })
            .await
        };
        let shared = Shared::new();
        let need = need(&server.url(), None);
        for _ in 0..2 {
            let why = shared.check(&need, &image).await.expect_err("unsigned");
            assert!(why.contains("no simple signatures"), "{why}");
        }
        assert_eq!(server.requests(), 1, "the empty set is cached");
        signed.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(crate::fetch::signature_sets::EMPTY_TTL + Duration::from_millis(200))
            .await;
        assert_eq!(shared.check(&need, &image).await, Ok(digest));
        assert_eq!(server.requests(), 3, "signature-1, then the 404");
    }

    #[tokio::test]
    async fn signature_count_is_bounded() {
        let (image, _) = image();
        let many = store(vec![fixture("sigs/corrupt.raw"); 40], None).await;
        let why = check(&need(&many.url(), None), &image)
            .await
            .expect_err("bad");
        assert!(
            why.contains("signature 16") && !why.contains("signature 17"),
            "{why}"
        );
        assert_eq!(many.requests(), MAX_SIGNATURES);
    }

    #[tokio::test]
    async fn a_tag_whose_registry_cannot_be_read_denies_naming_the_image() {
        let image = ImageRef::parse("127.0.0.1:9/test/signed:v1").expect("ref");
        let why = check(&need("http://127.0.0.1:9", None), &image)
            .await
            .expect_err("unreachable registry");
        assert!(
            why.contains("resolving 127.0.0.1:9/test/signed:v1 to a manifest digest"),
            "{why}"
        );
    }

    #[test]
    fn the_lookaside_folder_is_the_repository_path_and_digest() {
        let (image, digest) = image();
        assert_eq!(
            signature_dir("http://store/", &image, &digest),
            format!("http://store/test/signed@sha256={}", digest.hex())
        );
    }
}

//! Simple signing: finds the manifest digest of an image (the one it names, else its tag's on
//! the registry), reads the signatures of that digest from the policy's lookaside store, or
//! without one from the registry signature extension API, and has the core verify them.

use std::time::{SystemTime, UNIX_EPOCH};

use portieris_core::evidence::{Evidence, SimpleNeed, StoreAuth};
use portieris_core::simple::openpgp;
use portieris_core::time::UnixTime;
use portieris_core::{Digest, ImageRef};

use crate::fetch::docker_config::Credential;
use crate::fetch::{FetchError, Fetcher};
use crate::registry::Registry;

/// Most signatures read for one image (`signature-1` … `signature-16`, or from the registry).
pub const MAX_SIGNATURES: usize = 16;

/// Gathers and verifies the simple signatures one need asks for. `credentials` (the pod's
/// pull Secrets for the image's registry) authenticate to the registry; the store has its own.
pub async fn verify(
    registry: &Registry,
    fetcher: &Fetcher,
    need: &SimpleNeed,
    image: &ImageRef,
    credentials: &[Credential],
) -> Evidence {
    let digest = registry
        .digest(image, credentials)
        .await
        .map_err(|e| format!("simple signing: {e}"))?;
    let signatures = match &need.store_url {
        Some(store) => lookaside(fetcher, store, need.store_auth.as_ref(), image, &digest).await?,
        None => registry
            .signatures(
                image,
                &digest,
                credentials,
                MAX_SIGNATURES,
                openpgp::MAX_MESSAGE,
            )
            .await
            .map_err(|e| format!("simple signing: {e}"))?,
    };
    openpgp::evaluate(need, image, &digest, &signatures, now())
}

/// `<store>/<repository path>@sha256=<hex>/signature-N`, N = 1.. until the first 404, at most
/// [`MAX_SIGNATURES`]. Any other failure is an error: a store that cannot be read denies.
pub async fn lookaside(
    fetcher: &Fetcher,
    store: &str,
    auth: Option<&StoreAuth>,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Vec<Vec<u8>>, String> {
    let credentials: Vec<Credential> = auth
        .map(|a| Credential {
            username: a.username.clone(),
            password: a.password.clone(),
        })
        .into_iter()
        .collect();
    let session = fetcher.session(&credentials);
    let base = signature_dir(store, image, digest);
    let mut signatures = Vec::new();
    for n in 1..=MAX_SIGNATURES {
        let url = format!("{base}/signature-{n}");
        match session.get_optional(&url).await {
            Ok(Some(body)) if body.len() > openpgp::MAX_MESSAGE => {
                return Err(format!(
                    "simple signing: {url} is larger than {} bytes",
                    openpgp::MAX_MESSAGE
                ));
            }
            Ok(Some(body)) => signatures.push(body),
            Ok(None) => break,
            Err(e) => return Err(store_error(&e, auth.is_some())),
        }
    }
    Ok(signatures)
}

/// A store's refusal speaks of the policy's `storeSecret`, not of pull Secrets (the shared
/// session words it for registries).
fn store_error(error: &FetchError, has_secret: bool) -> String {
    match error {
        FetchError::Auth { url, .. } if has_secret => format!(
            "simple signing: the signature store did not accept the storeSecret credentials \
             (sent over https, or plain http to loopback, only): {url}"
        ),
        FetchError::Auth { url, .. } => format!(
            "simple signing: the signature store requires credentials and the policy has no \
             storeSecret: {url}"
        ),
        other => format!("simple signing: reading signatures: {other}"),
    }
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

fn now() -> UnixTime {
    // A clock before 1970 makes every signature "from the future": fail closed.
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use portieris_core::evidence::SignedBy;
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

    fn need(store: &str, auth: Option<StoreAuth>) -> SimpleNeed {
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

    /// [`verify`] with a fresh client, without pull credentials.
    async fn check(need: &SimpleNeed, image: &ImageRef) -> Evidence {
        let fetcher = fetcher();
        verify(
            &Registry::new(Arc::clone(&fetcher)),
            &fetcher,
            need,
            image,
            &[],
        )
        .await
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
        let auth = StoreAuth {
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

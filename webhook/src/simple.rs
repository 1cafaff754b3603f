//! Simple signing: reads an image's signatures from a lookaside store and has the core verify
//! them. Only images named by digest are checked for now: resolving a tag needs the manifest
//! fetched with OCI/Docker Accept headers, which the shared session does not send yet.

use std::time::{SystemTime, UNIX_EPOCH};

use portieris_core::evidence::{Evidence, SimpleNeed, StoreAuth};
use portieris_core::simple::openpgp;
use portieris_core::time::UnixTime;
use portieris_core::{Digest, ImageRef};

use crate::fetch::Fetcher;
use crate::fetch::docker_config::Credential;

/// Most signatures read for one image (`signature-1` … `signature-16`).
pub const MAX_SIGNATURES: usize = 16;

/// Gathers and verifies the simple signatures one need asks for.
pub async fn verify(fetcher: &Fetcher, need: &SimpleNeed, image: &ImageRef) -> Evidence {
    let Some(digest) = image.digest() else {
        return Err(format!(
            "simple signing: {image} is named by tag; resolving tags to manifest digests is not \
             supported by this build yet, name the image by digest"
        ));
    };
    let Some(store) = &need.store_url else {
        return Err(String::from(
            "simple signing: the policy has no storeURL; reading signatures from the registry \
             extension API is not supported by this build yet",
        ));
    };
    let signatures = lookaside(fetcher, store, need.store_auth.as_ref(), image, digest).await?;
    openpgp::evaluate(need, image, digest, &signatures, now())
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
            Err(e) => return Err(format!("simple signing: reading signatures: {e}")),
        }
    }
    Ok(signatures)
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

    fn fetcher() -> Fetcher {
        Fetcher::new(&FetchConfig::new(Duration::from_secs(5), None)).expect("client")
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
        let got = verify(&fetcher(), &need(&server.url(), None), &image).await;
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
        let got = verify(&fetcher(), &need(&server.url(), Some(auth)), &image).await;
        assert_eq!(got, Ok(digest));
        let denied = verify(&fetcher(), &need(&server.url(), None), &image).await;
        assert!(denied.is_err(), "{denied:?}");
    }

    #[tokio::test]
    async fn an_empty_store_or_a_wrong_signature_denies() {
        let (image, _) = image();
        let empty = store(Vec::new(), None).await;
        let why = verify(&fetcher(), &need(&empty.url(), None), &image)
            .await
            .expect_err("none");
        assert!(why.contains("no simple signatures"), "{why}");
        let wrong = store(vec![fixture("sigs/rsa-other-digest.sig")], None).await;
        let why = verify(&fetcher(), &need(&wrong.url(), None), &image)
            .await
            .expect_err("digest");
        assert!(why.contains("expected sha256:"), "{why}");
    }

    #[tokio::test]
    async fn signature_count_is_bounded() {
        let (image, _) = image();
        let many = store(vec![fixture("sigs/corrupt.raw"); 40], None).await;
        let why = verify(&fetcher(), &need(&many.url(), None), &image)
            .await
            .expect_err("bad");
        assert!(
            why.contains("signature 16") && !why.contains("signature 17"),
            "{why}"
        );
        assert_eq!(many.requests(), MAX_SIGNATURES);
    }

    #[tokio::test]
    async fn a_tag_reference_is_refused_until_tags_are_resolved() {
        let image = ImageRef::parse("127.0.0.1:5000/test/signed:v1").expect("ref");
        let why = verify(&fetcher(), &need("http://127.0.0.1:9", None), &image)
            .await
            .expect_err("tag");
        assert!(why.contains("named by tag"), "{why}");
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

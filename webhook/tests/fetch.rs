//! The fetchers against real peers: the rig's notary-servers (anonymous and token auth), its
//! token server and CA (`scripts/rig.sh start`), plus local sockets that refuse or stall.
//! Without the rig every rig test fails, saying how to start it.

#[allow(dead_code)] // a shared helper: not every test file uses all of it
#[path = "common/rig.rs"]
mod rig;

use std::sync::Arc;
use std::time::{Duration, Instant};

use portieris_core::ImageRef;
use portieris_core::notary::Signer;
use portieris_webhook::fetch::trust_server::TrustServers;
use portieris_webhook::fetch::{Credential, FetchConfig, FetchError, Fetcher};
use portieris_webhook::trust::{Trust, TrustError};
use rig::Rig;
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(5);

fn fetcher(rig: &Rig) -> Fetcher {
    Fetcher::new(&FetchConfig::new(TIMEOUT, Some(rig.ca()))).expect("client")
}

fn trust(rig: &Rig) -> Trust {
    let servers = TrustServers::new(Vec::new()).expect("no flags");
    Trust::new(Arc::new(fetcher(rig)), servers, Duration::from_secs(60))
}

/// `<notary>/v2/<gun>/_trust/tuf/root.json` of a rig image.
fn root_url(rig: &Rig, image: &str) -> String {
    let image = rig.image(image);
    format!("{}/v2/{}/_trust/tuf/root.json", image.notary, image.gun)
}

fn user(username: &str, password: &str) -> Credential {
    Credential {
        username: username.into(),
        password: password.into(),
    }
}

fn rig_user(rig: &Rig) -> Credential {
    user(
        &rig.env("PORTIERIS_RIG_TOKEN_USER"),
        &rig.env("PORTIERIS_RIG_TOKEN_PASSWORD"),
    )
}

fn root_type(body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).expect("root.json is JSON");
    json["signed"]["_type"].as_str().unwrap_or("").to_string()
}

fn signer(rig: &Rig, name: &str) -> Signer {
    Signer {
        name: name.to_string(),
        public_key_pem: rig.signer_key(name),
    }
}

#[tokio::test]
async fn root_metadata_is_fetched_anonymously() {
    let rig = Rig::get();
    let body = fetcher(&rig)
        .session(&[])
        .get(&root_url(&rig, "signed_v1"))
        .await
        .expect("anonymous read");
    assert_eq!(root_type(&body), "Root");
}

#[tokio::test]
async fn the_token_server_admits_the_right_credential() {
    let rig = Rig::get();
    let credentials = [rig_user(&rig)];
    let body = fetcher(&rig)
        .session(&credentials)
        .get(&root_url(&rig, "token_v1"))
        .await
        .expect("token auth");
    assert_eq!(root_type(&body), "Root");
}

#[tokio::test]
async fn a_wrong_credential_is_an_auth_error_without_the_password() {
    let rig = Rig::get();
    let credentials = [user(
        &rig.env("PORTIERIS_RIG_TOKEN_USER"),
        "not-the-password",
    )];
    let error = fetcher(&rig)
        .session(&credentials)
        .get(&root_url(&rig, "token_v1"))
        .await
        .expect_err("refused");
    assert!(matches!(error, FetchError::Auth { .. }), "{error:?}");
    assert!(
        error.to_string().contains("no valid imagePullSecret"),
        "{error}"
    );
    assert!(!format!("{error} {error:?}").contains("not-the-password"));
}

#[tokio::test]
async fn without_credentials_the_token_server_gives_no_access() {
    let rig = Rig::get();
    let error = fetcher(&rig)
        .session(&[])
        .get(&root_url(&rig, "token_v1"))
        .await
        .expect_err("refused");
    assert!(matches!(error, FetchError::Auth { .. }), "{error:?}");
}

#[tokio::test]
async fn the_second_credential_is_used_when_the_first_is_wrong() {
    let rig = Rig::get();
    let credentials = [user("intruder", "guess"), rig_user(&rig)];
    let body = fetcher(&rig)
        .session(&credentials)
        .get(&root_url(&rig, "token_v1"))
        .await
        .expect("second credential");
    assert_eq!(root_type(&body), "Root");
}

#[tokio::test]
async fn a_server_that_is_down_fails_fast() {
    let rig = Rig::get();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let started = Instant::now();
    let error = fetcher(&rig)
        .session(&[])
        .get(&format!("https://{addr}/v2/x/_trust/tuf/root.json"))
        .await
        .expect_err("down");
    assert!(matches!(error, FetchError::Connect { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_deadline() {
    let rig = Rig::get();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream); // accepted, never answered
        }
    });
    let deadline = Duration::from_millis(500);
    let fetcher = Fetcher::new(&FetchConfig::new(deadline, Some(rig.ca()))).expect("client");
    let started = Instant::now();
    let error = fetcher
        .session(&[])
        .get(&format!("https://{addr}/v2/x/_trust/tuf/root.json"))
        .await
        .expect_err("silent");
    let elapsed = started.elapsed();
    held.abort();
    assert!(matches!(error, FetchError::Timeout { .. }), "{error:?}");
    assert!(
        elapsed >= deadline && elapsed < deadline + Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_response_over_the_size_bound_is_refused() {
    let rig = Rig::get();
    let mut config = FetchConfig::new(TIMEOUT, Some(rig.ca()));
    config.max_body_bytes = 256; // root.json is a few KiB
    let error = Fetcher::new(&config)
        .expect("client")
        .session(&[])
        .get(&root_url(&rig, "signed_v1"))
        .await
        .expect_err("too large");
    assert!(
        matches!(error, FetchError::TooLarge { limit: 256, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_whose_ca_is_not_trusted_is_a_tls_error() {
    let rig = Rig::get();
    let error = Fetcher::new(&FetchConfig::new(TIMEOUT, None))
        .expect("client")
        .session(&[])
        .get(&root_url(&rig, "signed_v1"))
        .await
        .expect_err("unknown CA");
    assert!(matches!(error, FetchError::Tls { .. }), "{error:?}");
}

#[tokio::test]
async fn a_signed_tag_verifies_to_the_pushed_digest() {
    let rig = Rig::get();
    let image = rig.image("signed_v1");
    let reference = ImageRef::parse(&image.image).expect("reference");
    let verified = trust(&rig)
        .verify(&reference, Some(&image.notary), &[], &[])
        .await
        .expect("signed");
    assert_eq!(verified.digest.to_string(), image.digest);
}

#[tokio::test]
async fn a_digest_reference_verifies_against_its_own_target() {
    let rig = Rig::get();
    let image = rig.image("signed_v2");
    let pinned = format!("{}@{}", image.gun, image.digest);
    let reference = ImageRef::parse(&pinned).expect("reference");
    let verified = trust(&rig)
        .verify(&reference, Some(&image.notary), &[], &[])
        .await
        .expect("signed digest");
    assert_eq!(verified.digest.to_string(), image.digest);
    let other = format!("{}@{}", image.gun, rig.image("unsigned_v1").digest);
    let reference = ImageRef::parse(&other).expect("reference");
    let refused = trust(&rig)
        .verify(&reference, Some(&image.notary), &[], &[])
        .await;
    assert!(
        refused.is_err(),
        "a digest the repository never signed: {refused:?}"
    );
}

#[tokio::test]
async fn an_unsigned_image_has_no_trust_data() {
    let rig = Rig::get();
    let image = rig.image("unsigned_v1");
    let reference = ImageRef::parse(&image.image).expect("reference");
    let error = trust(&rig)
        .verify(&reference, Some(&image.notary), &[], &[])
        .await
        .expect_err("unsigned");
    assert!(matches!(error, TrustError::NoTrustData { .. }), "{error}");
    assert!(error.to_string().contains(&image.gun), "{error}");
}

#[tokio::test]
async fn an_image_behind_token_auth_verifies_with_the_pull_secret_only() {
    let rig = Rig::get();
    let image = rig.image("token_v1");
    let reference = ImageRef::parse(&image.image).expect("reference");
    let trust = trust(&rig);
    let verified = trust
        .verify(&reference, Some(&image.notary), &[], &[rig_user(&rig)])
        .await
        .expect("with credentials");
    assert_eq!(verified.digest.to_string(), image.digest);
    // Another namespace without the Secret is not admitted on the cached result.
    let error = trust
        .verify(&reference, Some(&image.notary), &[], &[])
        .await
        .expect_err("without credentials");
    assert!(
        matches!(
            &error,
            TrustError::Fetch {
                source: FetchError::Auth { .. },
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn pinned_signers_must_all_have_signed() {
    let rig = Rig::get();
    let trust = trust(&rig);
    let both = rig.image("signers_v1");
    let reference = ImageRef::parse(&both.image).expect("reference");
    let signers = [signer(&rig, "alice"), signer(&rig, "bob")];
    let verified = trust
        .verify(&reference, Some(&both.notary), &signers, &[])
        .await
        .expect("alice and bob signed");
    assert_eq!(verified.digest.to_string(), both.digest);

    let one = rig.image("onesigner_v1");
    let reference = ImageRef::parse(&one.image).expect("reference");
    let refused = trust
        .verify(&reference, Some(&one.notary), &[signer(&rig, "bob")], &[])
        .await;
    assert!(
        refused.is_err(),
        "bob did not sign onesigner:v1: {refused:?}"
    );
}

#[tokio::test]
async fn concurrent_verifications_of_one_image_agree() {
    let rig = Rig::get();
    let image = rig.image("signed_oci");
    let reference = ImageRef::parse(&image.image).expect("reference");
    let trust = trust(&rig);
    let runs = (0..8).map(|_| trust.verify(&reference, Some(&image.notary), &[], &[]));
    for result in futures::future::join_all(runs).await {
        assert_eq!(result.expect("signed").digest.to_string(), image.digest);
    }
}

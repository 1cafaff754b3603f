use std::sync::Arc;
use std::time::{Duration, Instant};

use portieris_core::ImageRef;
use portieris_core::notary::{Metadata, NotaryError, Signer, TargetRef};
use portieris_core::time::UnixTime;

use super::caches::{FAILURE_TTL, REFRESH_TTL, Repository, RepositoryKey, lock};
use super::client::{Job, check_role};
use super::*;
// Relative: this file is also compiled into tests/fetch.rs, under another root.
use super::super::fetch::FetchConfig;
use super::super::fetch::test_server::{Canned, FakeServer};
use super::super::fetch::trust_server::{TrustServerError, TrustServers};
use super::super::fetch::{Credential, Fetcher};

fn trust(extra: &[(String, String)]) -> Trust {
    let config = FetchConfig::new(Duration::from_secs(2), None);
    let fetcher = Arc::new(Fetcher::new(&config).expect("client"));
    let servers = TrustServers::new(extra.iter().cloned()).expect("servers");
    Trust::with_clock(fetcher, servers, Duration::from_secs(60), fixtures_made)
}

/// When the notary fixtures were recorded (`generated_at`, the same for every case): the
/// clock of these tests, so they do not depend on the date they run on.
fn fixtures_made() -> UnixTime {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/notary/signed/expected.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let expected: serde_json::Value = serde_json::from_str(&text).expect("json");
    portieris_core::time::parse_rfc3339(expected["generated_at"].as_str().expect("generated_at"))
        .expect("date")
}

fn job(role_server: &str) -> Job {
    Job {
        server: role_server.to_string(),
        gun: "127.0.0.1:5000/test/app".into(),
        target: TargetRef::Tag("v1".into()),
        signers: Vec::new(),
        credentials: Vec::new(),
    }
}

#[tokio::test]
async fn an_image_of_an_unmapped_registry_names_the_registry_and_the_flag() {
    let image = ImageRef::parse("registry.example/app:v1").expect("image");
    let error = trust(&[])
        .verify(&image, None, &[], &[])
        .await
        .expect_err("no server");
    assert!(matches!(
        error,
        TrustError::Server(TrustServerError::Unknown { .. })
    ));
    assert!(
        error
            .to_string()
            .contains("--trust-server registry.example="),
        "{error}"
    );
}

#[tokio::test]
async fn a_repository_without_root_metadata_has_no_trust_data() {
    let server = FakeServer::start(|_| Canned::status(404)).await;
    let image = ImageRef::parse("127.0.0.1:5000/test/app:v1").expect("image");
    let trust = trust(&[("127.0.0.1:5000".into(), server.url())]);
    for _ in 0..3 {
        let error = trust
            .verify(&image, None, &[], &[])
            .await
            .expect_err("unsigned");
        assert_eq!(
            error,
            TrustError::NoTrustData {
                gun: "127.0.0.1:5000/test/app".into(),
                server: server.url()
            }
        );
    }
    assert_eq!(server.requests(), 1, "the failure is cached");
    assert_eq!(
        server.paths(),
        ["/v2/127.0.0.1:5000/test/app/_trust/tuf/root.json"]
    );
}

#[tokio::test]
async fn the_policy_trust_server_is_used_over_the_map() {
    let server = FakeServer::start(|_| Canned::status(404)).await;
    let image = ImageRef::parse("docker.io/library/nginx:1").expect("image");
    let error = trust(&[])
        .verify(&image, Some(&server.url()), &[], &[])
        .await
        .expect_err("unsigned");
    assert!(matches!(error, TrustError::NoTrustData { .. }), "{error}");
    assert_eq!(
        server.paths(),
        ["/v2/docker.io/library/nginx/_trust/tuf/root.json"]
    );
}

#[tokio::test]
async fn a_failing_role_fetch_names_the_role_and_url() {
    let server = FakeServer::start(|seen| {
        if seen.path.ends_with("/snapshot.json") {
            Canned::status(500)
        } else {
            Canned::ok(b"{}".to_vec())
        }
    })
    .await;
    let trust = trust(&[]);
    let job = job(&server.url());
    let session = trust.inner.fetcher.session(&[]);
    let error = trust
        .inner
        .fetch_top_level(&session, &job)
        .await
        .expect_err("500");
    let text = error.to_string();
    assert!(
        text.starts_with("fetching snapshot trust data of 127.0.0.1:5000/test/app: "),
        "{text}"
    );
    assert!(
        text.contains("/_trust/tuf/snapshot.json: HTTP status 500"),
        "{text}"
    );
}

#[tokio::test]
async fn delegations_are_fetched_and_missing_ones_recorded_as_none() {
    let server = FakeServer::start(|seen| {
        if seen.path.ends_with("targets/releases.json") {
            Canned::ok(b"releases".to_vec())
        } else {
            Canned::status(404)
        }
    })
    .await;
    let trust = trust(&[]);
    let job = job(&server.url());
    let session = trust.inner.fetcher.session(&[]);
    let roles = ["targets/releases".to_string(), "targets/alice".to_string()];
    let fetched = trust
        .inner
        .fetch_roles(&session, &job, &roles)
        .await
        .expect("fetched");
    assert_eq!(
        fetched,
        [
            ("targets/releases".to_string(), Some(b"releases".to_vec())),
            ("targets/alice".to_string(), None)
        ]
    );
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn a_round_of_delegations_is_reused_for_the_same_top_level_fetch_only() {
    let server = FakeServer::start(|_| Canned::ok(b"role".to_vec())).await;
    let trust = trust(&[]);
    let job = job(&server.url());
    let repository = |generation| Repository {
        generation,
        metadata: Metadata::default(),
        until: Instant::now() + Duration::from_secs(60),
    };
    let roles = ["targets/releases".to_string()];
    for generation in [0, 0, 1] {
        let mut metadata = Metadata::default();
        trust
            .inner
            .fetch_delegations(&job, &repository(generation), &roles, &mut metadata)
            .await
            .expect("fetched");
        assert_eq!(
            metadata.delegations["targets/releases"].as_deref(),
            Some(&b"role"[..])
        );
        let again = trust
            .inner
            .fetch_delegations(&job, &repository(generation), &roles, &mut metadata)
            .await;
        assert!(
            matches!(again, Err(TrustError::TooManyRounds { .. })),
            "no progress"
        );
    }
    assert_eq!(server.requests(), 2, "once per generation");
}

/// Serves a fixture repository of `core/tests/fixtures/notary` (metadata a real
/// notary-server served) at `/v2/<gun>/_trust/tuf/<role>.json`; 404 for other roles.
async fn notary(case: &str) -> FakeServer {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/notary")
        .join(case);
    FakeServer::start(move |seen| {
        let role = seen
            .path
            .split_once("/_trust/tuf/")
            .and_then(|(_, role)| role.strip_suffix(".json"));
        match role.and_then(|role| std::fs::read(dir.join(format!("{role}.json"))).ok()) {
            Some(body) => Canned::ok(body),
            None => Canned::status(404),
        }
    })
    .await
}

const SIGNED: &str = "127.0.0.1:25000/test/signed";

fn trust_for(server: &FakeServer) -> Trust {
    trust(&[("127.0.0.1:25000".into(), server.url())])
}

fn tuf_paths(server: &FakeServer) -> Vec<String> {
    let mut paths: Vec<String> = server
        .paths()
        .into_iter()
        .filter_map(|p| {
            p.split_once("/_trust/tuf/")
                .map(|(_, role)| role.to_string())
        })
        .collect();
    paths.sort();
    paths
}

const ONE_SET: [&str; 5] = [
    "root.json",
    "snapshot.json",
    "targets.json",
    "targets/releases.json",
    "timestamp.json",
];

#[tokio::test]
async fn a_second_tag_of_a_repository_is_verified_without_fetching_its_metadata_again() {
    let server = notary("signed").await;
    let trust = trust_for(&server);
    let mut digests = Vec::new();
    for tag in ["v1", "v2", "oci"] {
        let image = ImageRef::parse(&format!("{SIGNED}:{tag}")).expect("image");
        let verified = trust.verify(&image, None, &[], &[]).await.expect(tag);
        digests.push(verified.digest.to_string());
    }
    assert_eq!(
        digests,
        [
            "sha256:ea8937ed4765cd3025fa2d319761afde635fba1deb03135a2c7df2dacbc58452",
            "sha256:5591cfea6fbfd91a33f53057f10e76d247a3a6808dfaedb71161052e2e6a4713",
            "sha256:3d63bb705b39e6744197afafbc059d566691dcbd5ae304e5080d81eac92d7dfe",
        ],
        "each tag is verified to its own digest"
    );
    assert_eq!(tuf_paths(&server), ONE_SET);
}

#[tokio::test]
async fn concurrent_cold_tags_of_a_repository_share_one_set_of_fetches() {
    let server = notary("signed").await;
    let trust = trust_for(&server);
    let images: Vec<ImageRef> = ["v1", "v2", "oci", "v1", "v2", "oci"]
        .iter()
        .map(|tag| ImageRef::parse(&format!("{SIGNED}:{tag}")).expect("image"))
        .collect();
    let results =
        futures::future::join_all(images.iter().map(|i| trust.verify(i, None, &[], &[]))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(tuf_paths(&server), ONE_SET);
}

#[tokio::test]
async fn a_tag_missing_from_the_cached_targets_is_denied_without_fetching_again() {
    let server = notary("signed").await;
    let trust = trust_for(&server);
    let signed = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
    trust.verify(&signed, None, &[], &[]).await.expect("signed");
    for tag in ["v8", "v9"] {
        let image = ImageRef::parse(&format!("{SIGNED}:{tag}")).expect("image");
        let error = trust
            .verify(&image, None, &[], &[])
            .await
            .expect_err("never signed");
        assert!(
            matches!(
                &error,
                TrustError::Verify {
                    error: NotaryError::NotSigned { .. },
                    ..
                }
            ),
            "{error}"
        );
    }
    assert_eq!(tuf_paths(&server), ONE_SET);
}

#[tokio::test]
async fn pinned_signers_are_still_checked_per_tag_against_cached_metadata() {
    let server = notary("signers").await;
    let trust = trust_for(&server);
    let keys =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/notary/keys");
    let signer = |name: &str, key: &str| Signer {
        name: name.into(),
        public_key_pem: std::fs::read_to_string(keys.join(format!("{key}.pub.pem"))).expect("key"),
    };
    let image = ImageRef::parse("127.0.0.1:25000/test/signers:v1").expect("image");
    let both = [signer("alice", "alice"), signer("bob", "bob")];
    trust
        .verify(&image, None, &both, &[])
        .await
        .expect("alice and bob signed");
    let fetched = server.requests();
    let wrong_key = [signer("alice", "mallory")];
    let error = trust
        .verify(&image, None, &wrong_key, &[])
        .await
        .expect_err("alice's role does not list mallory's key");
    assert!(matches!(error, TrustError::Verify { .. }), "{error}");
    assert_eq!(
        server.requests(),
        fetched,
        "served from the cached metadata"
    );
}

#[tokio::test]
async fn metadata_is_cached_per_credentials() {
    let server = notary("signed").await;
    let trust = trust_for(&server);
    let image = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
    let credential = Credential {
        username: "user".into(),
        password: "secret".into(),
    };
    trust
        .verify(&image, None, &[], &[])
        .await
        .expect("anonymous");
    trust
        .verify(&image, None, &[], &[credential])
        .await
        .expect("with a credential");
    assert_eq!(server.requests(), 2 * ONE_SET.len());
}

fn signed_key(server: &FakeServer) -> RepositoryKey {
    RepositoryKey {
        server: server.url(),
        gun: SIGNED.into(),
        credentials: Vec::new(),
    }
}

#[tokio::test]
async fn a_refresh_fetches_the_timestamp_and_reuses_the_rest_for_the_same_snapshot() {
    let server = notary("signed").await;
    let trust = trust_for(&server);
    let v1 = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
    trust.verify(&v1, None, &[], &[]).await.expect("v1");
    // As if the metadata's TTL had passed.
    trust.inner.repositories.forget(&signed_key(&server));
    let v2 = ImageRef::parse(&format!("{SIGNED}:v2")).expect("image");
    trust.verify(&v2, None, &[], &[]).await.expect("v2");
    let mut expected = ONE_SET.to_vec();
    expected.push("timestamp.json");
    expected.sort_unstable();
    assert_eq!(tuf_paths(&server), expected);
}

#[tokio::test]
async fn a_refresh_whose_timestamp_names_another_snapshot_fetches_everything() {
    let server = notary("signed").await;
    let trust = trust_for(&server);
    let v1 = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
    trust.verify(&v1, None, &[], &[]).await.expect("v1");
    let key = signed_key(&server);
    let previous = lock(&trust.inner.previous).get(&key).expect("kept");
    let mut older = previous.metadata.clone();
    older.timestamp = br#"{"signed":{"meta":{"snapshot":{"version":1}}}}"#.to_vec();
    let older = Repository {
        generation: previous.generation,
        metadata: older,
        until: previous.until,
    };
    lock(&trust.inner.previous).insert(key.clone(), Arc::new(older), REFRESH_TTL);
    trust.inner.repositories.forget(&key);
    let v2 = ImageRef::parse(&format!("{SIGNED}:v2")).expect("image");
    trust.verify(&v2, None, &[], &[]).await.expect("v2");
    let paths = tuf_paths(&server);
    let count = |role: &str| paths.iter().filter(|p| *p == role).count();
    assert_eq!(
        [
            count("root.json"),
            count("snapshot.json"),
            count("targets.json")
        ],
        [2, 2, 2],
        "{paths:?}"
    );
    assert_eq!(
        count("timestamp.json"),
        3,
        "the refresh's, then the full fetch's"
    );
    assert_eq!(
        count("targets/releases.json"),
        2,
        "delegations of another snapshot are not reused"
    );
}

#[test]
fn metadata_is_kept_until_the_ttl_or_its_first_expiry() {
    let trust = trust(&[]);
    let far = br#"{"signed":{"expires":"2999-01-01T00:00:00Z"}}"#;
    let past = br#"{"signed":{"expires":"2000-01-01T00:00:00Z"}}"#;
    let keep = |roles: &[&[u8]]| {
        trust
            .inner
            .keep_metadata(trust.inner.ttl, roles.iter().copied())
    };
    assert_eq!(keep(&[far]), Duration::from_secs(60), "the TTL");
    assert_eq!(keep(&[far, past]), Duration::ZERO, "expired: not kept");
    assert_eq!(keep(&[far, b"{}"]), FAILURE_TTL, "no date: briefly");
}

#[test]
fn delegation_role_names_cannot_leave_the_targets_tree() {
    let job = job("https://notary.example");
    for good in [
        "targets/releases",
        "targets/alice",
        "targets/team/ci-bot_1.x",
    ] {
        assert!(check_role(&job, good).is_ok(), "{good}");
    }
    for bad in [
        "root",
        "targets",
        "targets/",
        "targets/../root",
        "targets/a//b",
        "targets/a?x",
        "targets/./a",
    ] {
        assert!(check_role(&job, bad).is_err(), "{bad}");
    }
}

use super::*;
use alloc::string::ToString as _;

/// The specification's second example, as JSON.
const SPEC_EXAMPLE: &str = r#"{
    "version": "1.0",
    "trustPolicies": [
        {
            "name": "wabbit-networks-images",
            "registryScopes": [
              "registry.acme-rockets.io/software/net-monitor",
              "registry.acme-rockets.io/software/net-logger"
            ],
            "signatureVerification": { "level" : "strict" },
            "trustStores": ["ca:wabbit-networks"],
            "trustedIdentities": [
              "x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools"
            ]
        },
        {
            "name": "unsigned-image",
            "registryScopes": [ "registry.wabbit-networks.io/software/unsigned/net-utils" ],
            "signatureVerification": { "level" : "skip" }
        },
        {
            "name": "use-expired-image",
            "registryScopes": [ "registry.acme-rockets.io/software/legacy/metrics" ],
            "signatureVerification": {
              "level" : "strict",
              "override" : { "expiry" : "log", "revocation" : "skip" }
            },
            "trustStores": ["ca:acme-rockets"],
            "trustedIdentities": ["*"]
        },
        {
            "name": "global-policy-for-all-other-images",
            "registryScopes": [ "*" ],
            "signatureVerification": { "level" : "audit", "verifyTimestamp": "afterCertExpiry" },
            "trustStores": ["ca:acme-rockets", "ca:acme-rockets-ca2", "tsa:trusted-tsa"],
            "trustedIdentities": [
              "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder"
            ]
        }
    ]
}"#;

fn parsed() -> TrustPolicy {
    TrustPolicy::parse(SPEC_EXAMPLE.as_bytes()).expect("the specification's example")
}

#[test]
fn the_specification_example_is_read_with_levels_overrides_and_stores() {
    let policy = parsed();
    assert_eq!(policy.statements.len(), 4);
    let expired = policy
        .select("registry.acme-rockets.io/software/legacy/metrics")
        .expect("listed");
    assert_eq!(expired.name, "use-expired-image");
    assert_eq!(
        expired.actions,
        Some(Actions {
            authenticity: Action::Enforce,
            authentic_timestamp: Action::Enforce,
            expiry: Action::Log,
            revocation: Action::Skip,
        })
    );
    assert_eq!(expired.identities, None);
    let skipped = policy.select("registry.wabbit-networks.io/software/unsigned/net-utils");
    assert_eq!(skipped.map(|s| s.actions), Some(None));
    assert_eq!(policy.stores().len(), 4);
}

#[test]
fn a_listed_scope_wins_over_the_global_one_and_the_global_one_takes_the_rest() {
    let policy = parsed();
    let name = |repo: &str| policy.select(repo).map(|s| s.name.as_str());
    assert_eq!(
        name("registry.acme-rockets.io/software/net-logger"),
        Some("wabbit-networks-images")
    );
    assert_eq!(
        name("registry.acme-rockets.io/software/net-logger/sub"),
        Some("global-policy-for-all-other-images")
    );
    let global = policy.select("docker.io/library/nginx").expect("global");
    assert!(global.timestamp_after_expiry);
    assert_eq!(global.actions.map(|a| a.authenticity), Some(Action::Log));
}

#[test]
fn without_a_global_statement_an_unlisted_repository_has_none() {
    let policy = TrustPolicy::parse(
        br#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["r.io/a"],
        "signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["*"]}]}"#,
    )
    .expect("valid");
    assert!(policy.select("r.io/b").is_none());
    assert!(policy.select("r.io/a").is_some());
}

/// One statement in an otherwise valid document.
fn with(statement: &str) -> Result<TrustPolicy, TrustPolicyError> {
    let json = alloc::format!(r#"{{"version":"1.0","trustPolicies":[{statement}]}}"#);
    TrustPolicy::parse(json.as_bytes())
}

#[test]
fn each_rule_notation_validates_is_refused_with_what_is_wrong() {
    let base = |extra: &str| {
        alloc::format!(
            r#"{{"name":"p","registryScopes":["r.io/a"],"trustStores":["ca:s"],"trustedIdentities":["*"],{extra}}}"#
        )
    };
    let cases = [
        (base(r#""signatureVerification":{"level":"loose"}"#), "is not a verification level"),
        (base(r#""signatureVerification":{"level":"strict","override":{"integrity":"log"}}"#), "integrity cannot be overridden"),
        (base(r#""signatureVerification":{"level":"strict","override":{"expiry":"skip"}}"#), "expiry cannot be skipped"),
        (base(r#""signatureVerification":{"level":"skip"}"#), "the skip level takes no trust stores"),
        (base(r#""signatureVerification":{"level":"strict","verifyTimestamp":"never"}"#), "verifyTimestamp"),
        (base(r#""signatureVerification":{"level":"strict"},"extra":1"#), "unknown field"),
        (r#"{"name":"p","registryScopes":["r.io/a","*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["*"]}"#.into(), "cannot be listed with other scopes"),
        (r#"{"name":"p","registryScopes":["r.io/A:tag"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["*"]}"#.into(), "not a fully qualified repository"),
        (r#"{"name":"p","registryScopes":["r.io/a"],"signatureVerification":{"level":"strict"},"trustStores":["x509:s"],"trustedIdentities":["*"]}"#.into(), "is not ca, signingAuthority or tsa"),
        (r#"{"name":"p","registryScopes":["r.io/a"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["*","x509.subject: C=US, ST=WA, O=a"]}"#.into(), "cannot be listed with other identities"),
        (r#"{"name":"p","registryScopes":["r.io/a"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=a","x509.subject: C=US, ST=WA, O=a, OU=b"]}"#.into(), "overlap"),
        (r#"{"name":"p","registryScopes":["r.io/a"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["x509.subject: C=US, O=a"]}"#.into(), "it has no ST"),
        (r#"{"name":"p","registryScopes":["r.io/a"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"]}"#.into(), "must both be given"),
    ];
    for (statement, expected) in cases {
        let error = with(&statement).expect_err(&statement).to_string();
        assert!(error.contains(expected), "{statement}: {error}");
    }
}

#[test]
fn documents_with_duplicate_names_or_scopes_or_another_version_are_refused() {
    let statement = |name: &str, scope: &str| {
        alloc::format!(
            r#"{{"name":"{name}","registryScopes":["{scope}"],"signatureVerification":{{"level":"skip"}}}}"#
        )
    };
    let two = |a: String, b: String| with(&alloc::format!("{a},{b}"));
    let names = two(statement("a", "r.io/a"), statement("a", "r.io/b"));
    assert!(names.expect_err("names").0.contains("two statements"));
    let scopes = two(statement("a", "*"), statement("b", "*"));
    assert!(
        scopes
            .expect_err("scopes")
            .0
            .contains("more than one statement")
    );
    let version = TrustPolicy::parse(br#"{"version":"2.0","trustPolicies":[]}"#);
    assert!(version.expect_err("version").0.contains("not supported"));
    let oversized = alloc::vec![b' '; MAX_TRUST_POLICY_BYTES + 1];
    assert!(TrustPolicy::parse(&oversized).is_err());
}

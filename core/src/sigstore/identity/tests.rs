use super::*;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const WORKFLOW: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn identity() -> CertIdentity {
    let mut extensions = BTreeMap::new();
    extensions.insert("sourceRepositoryURI", "https://github.com/acme/app".into());
    extensions.insert("sourceRepositoryRef", "refs/heads/main".into());
    CertIdentity {
        subject: WORKFLOW.into(),
        subject_kind: SubjectKind::Uri,
        issuer: Some(ISSUER.into()),
        extensions,
    }
}

fn policy(issuer: Matcher, subject: Matcher) -> IdentityPolicy {
    IdentityPolicy::new(issuer, subject, BTreeMap::new()).expect("a policy")
}

fn exact(value: &str) -> Matcher {
    Matcher::exact(value).expect("a matcher")
}

fn regex(pattern: &str) -> Matcher {
    Matcher::regex(pattern).expect("a regex")
}

#[test]
fn an_empty_identity_list_accepts_nobody() {
    assert_eq!(check(&identity(), &[]), Err(IdentityError::NoIdentities));
}

#[test]
fn exact_issuer_and_subject_match_only_equal_values() {
    assert_eq!(
        check(&identity(), &[policy(exact(ISSUER), exact(WORKFLOW))]),
        Ok(())
    );
    let prefix = &WORKFLOW[..WORKFLOW.len() - 1];
    let refused = check(&identity(), &[policy(exact(ISSUER), exact(prefix))]);
    assert!(matches!(refused, Err(IdentityError::Mismatch { .. })));
}

#[test]
fn a_regex_that_matches_only_a_substring_is_refused() {
    // Unanchored, each of these would find a match inside the value.
    for pattern in [
        "acme/app",
        "https://github.com/acme/",
        r"release\.yml",
        "main",
    ] {
        let refused = check(&identity(), &[policy(exact(ISSUER), regex(pattern))]);
        assert!(refused.is_err(), "/{pattern}/ must match the whole subject");
    }
    let whole = r"https://github\.com/acme/app/\.github/workflows/.+@refs/heads/main";
    assert_eq!(
        check(&identity(), &[policy(exact(ISSUER), regex(whole))]),
        Ok(())
    );
}

#[test]
fn a_pattern_cannot_close_the_anchoring_group() {
    // Wrapped naively this is `^(?:x)|(?:.*)$`, which matches anything.
    assert!(matches!(
        Matcher::regex("x)|(?:.*"),
        Err(IdentityError::Regex { .. })
    ));
    // Multi-line flags inside the pattern do not loosen the anchors.
    let m = regex("(?m)main$");
    assert!(!m.matches("main\nrest"));
    assert!(m.matches("main"));
}

#[test]
fn the_issuer_is_checked_and_a_missing_issuer_matches_nothing() {
    let wrong = check(
        &identity(),
        &[policy(exact("https://accounts.google.com"), regex(".*"))],
    );
    let Err(IdentityError::Mismatch { identities, .. }) = wrong else {
        panic!("expected a mismatch, got {wrong:?}");
    };
    assert_eq!(identities[0].field, "issuer");
    assert_eq!(identities[0].found.as_deref(), Some(ISSUER));
    let mut no_issuer = identity();
    no_issuer.issuer = None;
    assert!(check(&no_issuer, &[policy(regex(".*"), regex(".*"))]).is_err());
}

#[test]
fn extensions_must_be_present_and_match() {
    let mut wanted = BTreeMap::new();
    wanted.insert("sourceRepositoryRef".into(), exact("refs/heads/main"));
    let ok = IdentityPolicy::new(exact(ISSUER), regex(".*"), wanted.clone()).expect("policy");
    assert_eq!(check(&identity(), &[ok]), Ok(()));

    wanted.insert("sourceRepositoryRef".into(), regex("refs/tags/v.*"));
    let tag = IdentityPolicy::new(exact(ISSUER), regex(".*"), wanted).expect("policy");
    let refused = check(&identity(), core::slice::from_ref(&tag));
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("sourceRepositoryRef is \"refs/heads/main\""),
        "{message}"
    );

    let mut absent = BTreeMap::new();
    absent.insert("buildTrigger".into(), regex(".*"));
    let absent = IdentityPolicy::new(exact(ISSUER), regex(".*"), absent).expect("policy");
    assert!(check(&identity(), &[absent]).is_err());
}

#[test]
fn any_one_identity_suffices_and_the_message_names_each_difference() {
    let policies = [
        policy(exact("https://gitlab.com"), exact(WORKFLOW)),
        policy(exact(ISSUER), exact("someone@example.com")),
    ];
    let message = check(&identity(), &policies)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("[0] issuer is \"https://token.actions"),
        "{message}"
    );
    assert!(
        message.contains("[1] subject is \"https://github.com/acme"),
        "{message}"
    );
    let with_match = [
        policies[0].clone(),
        policies[1].clone(),
        policy(
            regex(r"https://token\.actions\.githubusercontent\.com"),
            regex(".*"),
        ),
    ];
    assert_eq!(check(&identity(), &with_match), Ok(()));
}

#[test]
fn unknown_extension_names_and_oversized_patterns_are_refused() {
    let mut misspelt = BTreeMap::new();
    misspelt.insert("sourceRepositoryUri".into(), exact("x"));
    assert_eq!(
        IdentityPolicy::new(exact(ISSUER), exact(WORKFLOW), misspelt).err(),
        Some(IdentityError::UnknownExtension(
            "sourceRepositoryUri".into()
        ))
    );
    let long = "a".repeat(MAX_IDENTITY_PATTERN + 1);
    assert_eq!(
        Matcher::exact(&long).err(),
        Some(IdentityError::PatternTooLong(long.len()))
    );
    assert!(matches!(
        Matcher::regex(&long),
        Err(IdentityError::PatternTooLong(_))
    ));
    assert!(matches!(
        Matcher::regex("(?:a{1000}){1000}"),
        Err(IdentityError::Regex { .. })
    ));
}

use super::*;
use alloc::string::ToString;

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// (input, normalised form) for references docker accepts.
const VALID: &[(&str, &str)] = &[
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    (
        "docker.io/library/nginx:stable",
        "docker.io/library/nginx:stable",
    ),
    (
        "index.docker.io/library/nginx",
        "docker.io/library/nginx:latest",
    ),
    ("index.docker.io/nginx", "docker.io/library/nginx:latest"),
    ("org/app", "docker.io/org/app:latest"),
    ("org/team/app:v2", "docker.io/org/team/app:v2"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/x", "localhost:5000/x:latest"),
    ("localhost:5000/x:1", "localhost:5000/x:1"),
    ("127.0.0.1:5000/test/app:v1", "127.0.0.1:5000/test/app:v1"),
    ("icr.io/ns/app", "icr.io/ns/app:latest"),
    (
        "de.icr.io/ns/deep/er/app:tag_1.0-rc",
        "de.icr.io/ns/deep/er/app:tag_1.0-rc",
    ),
    (
        "my-registry.example.com:443/a/b",
        "my-registry.example.com/a/b:latest",
    ),
    ("registry/app", "docker.io/registry/app:latest"),
    // One name per registry: the HTTPS port and Docker Hub's hosts are dropped for the canonical
    // name, so no rule, trust server or pull secret can be walked around by respelling them.
    ("icr.io:443/ns/app:1", "icr.io/ns/app:1"),
    ("ICR.IO:443/ns/app", "icr.io/ns/app:latest"),
    ("docker.io:443/nginx", "docker.io/library/nginx:latest"),
    (
        "index.docker.io:443/nginx",
        "docker.io/library/nginx:latest",
    ),
    ("registry-1.docker.io/nginx:1", "docker.io/library/nginx:1"),
    (
        "registry-1.docker.io:443/org/app",
        "docker.io/org/app:latest",
    ),
    (
        "registry.hub.docker.com/library/nginx",
        "docker.io/library/nginx:latest",
    ),
    (
        "Registry.Hub.Docker.Com:443/nginx",
        "docker.io/library/nginx:latest",
    ),
    ("icr.io:4443/ns/app", "icr.io:4443/ns/app:latest"),
    ("icr.io:80/ns/app", "icr.io:80/ns/app:latest"),
    ("localhost:443/app", "localhost/app:latest"),
    // Without a dot, `registry/app` would be Docker Hub's: a one-label host keeps `:443`.
    ("registry:443/app", "registry:443/app:latest"),
    ("a.b/c", "a.b/c:latest"),
    ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"),
    ("app__x/y", "docker.io/app__x/y:latest"),
    ("x/a_b.c-d---e", "docker.io/x/a_b.c-d---e:latest"),
    ("MyRegistry.io/app", "myregistry.io/app:latest"),
    ("DOCKER.IO/nginx", "docker.io/library/nginx:latest"),
    (
        "Index.Docker.IO/library/nginx:1",
        "docker.io/library/nginx:1",
    ),
    ("nginx:Latest", "docker.io/library/nginx:Latest"),
    ("nginx:_x", "docker.io/library/nginx:_x"),
];

/// References pinned by digest keep no implicit tag.
const DIGESTS: &[(&str, &str)] = &[
    ("nginx@", "docker.io/library/nginx@"),
    ("nginx:1.2@", "docker.io/library/nginx:1.2@"),
    ("icr.io/ns/app@", "icr.io/ns/app@"),
    ("localhost:5000/x:v1@", "localhost:5000/x:v1@"),
];

/// Inputs docker refuses, with the error that names the problem.
fn invalid() -> alloc::vec::Vec<(&'static str, ReferenceError)> {
    use ReferenceError::*;
    let comp = |s: &str| InvalidPathComponent(s.to_string());
    alloc::vec![
        ("", Empty),
        ("Nginx", UpperCaseRepository),
        ("docker.io/Library/nginx", UpperCaseRepository),
        ("icr.io/NS/app", UpperCaseRepository),
        ("a//b", EmptyPathComponent),
        ("icr.io/", EmptyPathComponent),
        ("app/", EmptyPathComponent),
        ("/app", EmptyPathComponent),
        ("-app", comp("-app")),
        ("app-", comp("app-")),
        ("app...x", comp("app...x")),
        ("app___x", comp("app___x")),
        ("app._x", comp("app._x")),
        ("app$", comp("app$")),
        ("ap p", comp("ap p")),
        ("nginx:", InvalidTag("".to_string())),
        ("nginx:-x", InvalidTag("-x".to_string())),
        ("nginx:.x", InvalidTag(".x".to_string())),
        ("nginx:a/b", InvalidDomain("nginx:a".to_string())),
        ("nginx:a+b", InvalidTag("a+b".to_string())),
        ("localhost:/x", InvalidDomain("localhost:".to_string())),
        (
            "localhost:50a/x",
            InvalidDomain("localhost:50a".to_string())
        ),
        (
            "localhost:123456/x",
            InvalidDomain("localhost:123456".to_string())
        ),
        ("-bad.io/x", InvalidDomain("-bad.io".to_string())),
        ("bad..io/x", InvalidDomain("bad..io".to_string())),
        ("bad_host.io/x", InvalidDomain("bad_host.io".to_string())),
        (
            "nginx@sha512:abcd",
            UnsupportedDigestAlgorithm("sha512".to_string())
        ),
        (
            "nginx@md5:abcd",
            UnsupportedDigestAlgorithm("md5".to_string())
        ),
        ("nginx@sha256:abc", InvalidDigest),
        ("nginx@sha256", InvalidDigest),
        ("nginx@", InvalidDigest),
    ]
}

#[test]
fn valid_references_normalise_like_docker() {
    for (input, want) in VALID {
        let got = ImageRef::parse(input).map(|r| r.to_string());
        assert_eq!(got.as_deref(), Ok(*want), "{input}");
    }
}

#[test]
fn digest_references_keep_their_digest_and_no_implicit_tag() {
    for (input, want) in DIGESTS {
        let input = alloc::format!("{input}{}", D);
        let parsed = ImageRef::parse(&input).expect("valid digest reference");
        assert_eq!(parsed.to_string(), alloc::format!("{want}{D}"));
        assert_eq!(parsed.digest().map(ToString::to_string).as_deref(), Some(D));
    }
    let pinned = ImageRef::parse(&alloc::format!("nginx@{D}")).expect("valid");
    assert_eq!(pinned.tag(), None);
}

#[test]
fn invalid_references_are_refused_with_the_reason() {
    for (input, want) in invalid() {
        assert_eq!(ImageRef::parse(input), Err(want), "{input:?}");
    }
}

#[test]
fn upper_case_digest_hex_is_refused() {
    let upper = D.to_uppercase().replace("SHA256", "sha256");
    assert_eq!(
        ImageRef::parse(&alloc::format!("nginx@{upper}")),
        Err(ReferenceError::InvalidDigest)
    );
}

#[test]
fn over_long_names_are_refused() {
    let path = "a".repeat(MAX_NAME_LEN);
    assert_eq!(
        ImageRef::parse(&alloc::format!("icr.io/{path}")),
        Err(ReferenceError::NameTooLong)
    );
    let fits = "a".repeat(MAX_NAME_LEN - "icr.io/".len());
    assert!(ImageRef::parse(&alloc::format!("icr.io/{fits}")).is_ok());
    let long_tag = "t".repeat(129);
    assert!(matches!(
        ImageRef::parse(&alloc::format!("nginx:{long_tag}")),
        Err(ReferenceError::InvalidTag(_))
    ));
}

#[test]
fn normalisation_is_idempotent() {
    for (input, _) in VALID {
        let once = ImageRef::parse(input).expect("valid").to_string();
        let twice = ImageRef::parse(&once)
            .expect("normalised form parses")
            .to_string();
        assert_eq!(once, twice, "{input}");
    }
}

#[test]
fn accessors_expose_the_normalised_parts() {
    let r = ImageRef::parse("localhost:5000/team/app:v1").expect("valid");
    assert_eq!(
        (r.domain(), r.path(), r.tag()),
        ("localhost:5000", "team/app", Some("v1"))
    );
    assert_eq!(r.name(), "localhost:5000/team/app");
    let digest = Digest::parse(D).expect("valid digest");
    assert_eq!(
        r.pinned(&digest),
        alloc::format!("localhost:5000/team/app@{D}")
    );
}

#[test]
fn digest_from_raw_hash_is_lower_case_hex() {
    let digest = Digest::from_sha256(&[0xab; 32]);
    assert_eq!(
        digest.to_string(),
        alloc::format!("sha256:{}", "ab".repeat(32))
    );
    assert_eq!(Digest::parse(&digest.to_string()), Ok(digest));
}

#[test]
fn errors_say_what_was_wrong() {
    let msg = ImageRef::parse("nginx@sha512:00")
        .expect_err("refused")
        .to_string();
    assert!(msg.contains("sha512") && msg.contains("sha256"), "{msg}");
    let msg = ImageRef::parse("Nginx").expect_err("refused").to_string();
    assert!(msg.contains("lower case"), "{msg}");
}

#[test]
fn pinning_keeping_the_tag_writes_name_tag_and_digest() {
    let digest = Digest::parse(D).expect("valid digest");
    let cases = [
        (
            "nginx:1.25",
            alloc::format!("docker.io/library/nginx:1.25@{D}"),
        ),
        (
            "nginx",
            alloc::format!("docker.io/library/nginx:latest@{D}"),
        ),
        (
            &alloc::format!("icr.io/a/b@{D}"),
            alloc::format!("icr.io/a/b@{D}"),
        ),
        (
            &alloc::format!("icr.io/a/b:v2@{D}"),
            alloc::format!("icr.io/a/b:v2@{D}"),
        ),
    ];
    for (text, want) in cases {
        let image = ImageRef::parse(text).expect("valid reference");
        assert_eq!(image.pinned_keeping_tag(&digest), want, "{text}");
    }
}

#[test]
fn a_reference_with_tag_and_digest_keeps_both_and_the_digest_is_its_digest() {
    let image = ImageRef::parse(&alloc::format!("icr.io/a/b:v2@{D}")).expect("valid reference");
    assert_eq!(image.tag(), Some("v2"));
    assert_eq!(
        image.digest(),
        Some(&Digest::parse(D).expect("valid digest"))
    );
}

use super::*;
use alloc::collections::BTreeMap;
use alloc::vec;

fn secret(key: &str, json: &str) -> Secret {
    Secret {
        namespace: "team".into(),
        name: "pull".into(),
        data: BTreeMap::from([(key.to_string(), json.as_bytes().to_vec())]),
    }
}

fn user(username: &str, password: &str) -> Credential {
    Credential {
        username: username.into(),
        password: password.into(),
    }
}

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

fn found(registry: &str, secret: &Secret) -> Vec<Credential> {
    from_secret(registry, secret).expect("a pull secret")
}

#[test]
fn dockerconfigjson_with_an_exact_host_key_gives_its_credential() {
    let s = secret(
        DOCKER_CONFIG_JSON,
        r#"{"auths":{"registry.example:5000":{"username":"u","password":"p"}}}"#,
    );
    assert_eq!(found("registry.example:5000", &s), [user("u", "p")]);
    assert!(
        found("registry.example", &s).is_empty(),
        "the port is part of the host"
    );
}

#[test]
fn dockercfg_is_a_bare_map_of_hosts() {
    let s = secret(DOCKER_CFG, r#"{"quay.io":{"username":"u","password":"p"}}"#);
    assert_eq!(found("quay.io", &s), [user("u", "p")]);
}

#[test]
fn url_keys_with_schemes_and_paths_match_the_host() {
    for key in [
        "https://icr.io",
        "http://icr.io",
        "https://icr.io/v1/",
        "icr.io/v2/",
        "HTTPS://ICR.IO",
    ] {
        let json = format!(r#"{{"auths":{{"{key}":{{"username":"u","password":"p"}}}}}}"#);
        let s = secret(DOCKER_CONFIG_JSON, &json);
        assert_eq!(found("icr.io", &s), [user("u", "p")], "key {key}");
    }
}

#[test]
fn docker_hub_matches_its_index_names() {
    for key in [
        "https://index.docker.io/v1/",
        "index.docker.io",
        "docker.io",
    ] {
        let json = format!(r#"{{"auths":{{"{key}":{{"username":"u","password":"p"}}}}}}"#);
        let s = secret(DOCKER_CONFIG_JSON, &json);
        assert_eq!(found("docker.io", &s), [user("u", "p")], "key {key}");
    }
}

#[test]
fn a_key_for_another_host_or_a_longer_host_gives_nothing() {
    for key in [
        "evil.com",
        "icr.io.evil.com",
        "evil.com/icr.io",
        "icr.ioo",
        "us.icr.io",
    ] {
        let json = format!(r#"{{"auths":{{"{key}":{{"username":"u","password":"p"}}}}}}"#);
        let s = secret(DOCKER_CONFIG_JSON, &json);
        assert!(found("icr.io", &s).is_empty(), "key {key}");
    }
}

#[test]
fn auth_overrides_username_and_password_and_may_hold_colons() {
    let json = format!(
        r#"{{"auths":{{"icr.io":{{"auth":"{}","username":"old","password":"old"}}}}}}"#,
        b64("iamapikey:s3cr:et")
    );
    let s = secret(DOCKER_CONFIG_JSON, &json);
    assert_eq!(found("icr.io", &s), [user("iamapikey", "s3cr:et")]);
}

#[test]
fn unpadded_auth_is_accepted_and_invalid_auth_falls_back_to_the_fields() {
    let unpadded = b64("ab:c").trim_end_matches('=').to_string();
    let json = format!(r#"{{"auths":{{"icr.io":{{"auth":"{unpadded}"}}}}}}"#);
    assert_eq!(
        found("icr.io", &secret(DOCKER_CONFIG_JSON, &json)),
        [user("ab", "c")]
    );
    let json = r#"{"auths":{"icr.io":{"auth":"%%%","username":"u","password":"p"}}}"#;
    assert_eq!(
        found("icr.io", &secret(DOCKER_CONFIG_JSON, json)),
        [user("u", "p")]
    );
}

#[test]
fn entries_without_a_usable_credential_are_skipped() {
    let json = r#"{"auths":{"icr.io":{"auth":""},"https://icr.io":{"username":"u"}}}"#;
    assert!(found("icr.io", &secret(DOCKER_CONFIG_JSON, json)).is_empty());
}

#[test]
fn exact_keys_come_first_and_duplicates_are_dropped() {
    let json = r#"{"auths":{
        "https://icr.io/v1/":{"username":"url","password":"p"},
        "icr.io":{"username":"exact","password":"p"},
        "http://icr.io":{"username":"url","password":"p"}}}"#;
    let s = secret(DOCKER_CONFIG_JSON, json);
    assert_eq!(found("icr.io", &s), [user("exact", "p"), user("url", "p")]);
}

#[test]
fn malformed_and_foreign_secrets_are_errors_that_name_the_secret_only() {
    let s = secret(DOCKER_CONFIG_JSON, r#"{"auths":"nope"}"#);
    let error = from_secret("icr.io", &s).expect_err("malformed");
    assert_eq!(
        error.to_string(),
        "Secret team/pull .dockerconfigjson is not a docker config JSON object"
    );
    let s = secret("token", "hunter2");
    assert!(matches!(
        from_secret("icr.io", &s),
        Err(DockerConfigError::NotAPullSecret { .. })
    ));
}

#[test]
fn a_config_over_the_byte_limit_is_refused_before_it_is_parsed() {
    let mut json = String::from(r#"{"icr.io":{"username":"u","password":"p"}}"#);
    json.push_str(&" ".repeat(MAX_CONFIG_BYTES + 1 - json.len()));
    let error = from_secret("icr.io", &secret(DOCKER_CFG, &json)).expect_err("too large");
    assert_eq!(
        error.to_string(),
        "Secret team/pull .dockercfg is 1048577 bytes, more than 1048576"
    );
    json.pop();
    assert_eq!(
        found("icr.io", &secret(DOCKER_CFG, &json)),
        [user("u", "p")]
    );
}

#[test]
fn a_config_naming_too_many_registries_is_refused() {
    let config = |entries: usize| {
        let auths: Vec<String> = (0..entries)
            .map(|i| format!(r#""r{i}.example":{{"username":"u","password":"p"}}"#))
            .collect();
        secret(
            DOCKER_CONFIG_JSON,
            &format!(r#"{{"auths":{{{}}}}}"#, auths.join(",")),
        )
    };
    let error = from_secret("r0.example", &config(MAX_ENTRIES + 1)).expect_err("too many");
    assert_eq!(
        error.to_string(),
        "Secret team/pull .dockerconfigjson names 1001 registries, more than 1000"
    );
    assert_eq!(found("r0.example", &config(MAX_ENTRIES)), [user("u", "p")]);
}

#[test]
fn credentials_keep_secret_order_and_report_unreadable_secrets() {
    let a = secret(DOCKER_CFG, r#"{"icr.io":{"username":"a","password":"1"}}"#);
    let broken = secret(DOCKER_CFG, "not json");
    let b = secret(
        DOCKER_CONFIG_JSON,
        r#"{"auths":{"icr.io":{"username":"b","password":"2"}}}"#,
    );
    let (found, skipped) = credentials("icr.io", [&a, &broken, &b]);
    assert_eq!(found, [user("a", "1"), user("b", "2")]);
    assert_eq!(
        skipped,
        vec![DockerConfigError::Malformed {
            secret: "team/pull".into(),
            key: DOCKER_CFG
        }]
    );
}

#[test]
fn debug_output_never_shows_the_password() {
    let shown = format!("{:?}", user("robot", "hunter2"));
    assert!(
        shown.contains("robot") && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[test]
fn an_entry_that_is_not_an_object_gives_nothing() {
    let json = r#"{"auths":{"icr.io":["dTpw",null,null],"https://icr.io":"dTpw"}}"#;
    assert!(found("icr.io", &secret(DOCKER_CONFIG_JSON, json)).is_empty());
}

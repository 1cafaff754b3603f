//! The registry client's parsers: `WWW-Authenticate` challenges and token answers, and the
//! docker config JSON of image pull Secrets (`portieris_core::registry`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use portieris_core::policy::Secret;
use portieris_core::reference::canonical_host;
use portieris_core::registry::challenge::{MAX_HEADER_BYTES, MAX_TOKEN_REPLY_BYTES};
use portieris_core::registry::docker_config::{
    self, Credential, DOCKER_CFG, DOCKER_CONFIG_JSON, DockerConfigError, MAX_CONFIG_BYTES,
    MAX_ENTRIES,
};
use portieris_core::registry::{Challenge, TokenError, parse_challenges, parse_token};
use serde_json::Value;

use crate::input;

/// Target `www_authenticate`: the input as a header value (lossy UTF-8), and as a token answer.
pub fn run_challenges(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let parsed = parse_challenges(&value);
    if value.len() > MAX_HEADER_BYTES {
        assert!(parsed.is_err(), "a value over the limit parsed");
    } else {
        let challenges = parsed.expect("a value under the limit always parses");
        check_challenges(&value, &challenges);
    }
    check_token(data);
}

fn check_challenges(value: &str, challenges: &[Challenge]) {
    for challenge in challenges {
        assert!(is_lower_token(&challenge.scheme), "scheme {challenge:?}");
        for (name, param) in &challenge.params {
            assert!(is_lower_token(name), "parameter name {name:?}");
            // A parameter is a slice of the value, less quotes and escapes (plus U+FFFD for
            // invalid UTF-8, at most 3 bytes for each byte replaced).
            assert!(
                param.len() <= 3 * value.len(),
                "parameter longer than its header"
            );
        }
    }
    // Rendering what was parsed, every value quoted, reads back to the same challenges.
    let rendered = render(challenges);
    if rendered.len() <= MAX_HEADER_BYTES {
        let again = parse_challenges(&rendered).expect("under the limit");
        assert_eq!(again, challenges, "re-parsing {rendered:?}");
    }
}

fn is_lower_token(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            (b.is_ascii_alphanumeric() && !b.is_ascii_uppercase())
                || b"!#$%&'*+-.^_`|~/".contains(&b)
        })
}

/// `scheme name="value", name="value", scheme…`, with `"` and `\` escaped (RFC 7230 §3.2.6).
fn render(challenges: &[Challenge]) -> String {
    let rendered: Vec<String> = challenges
        .iter()
        .map(|c| {
            let params: Vec<String> = c
                .params
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            if params.is_empty() {
                c.scheme.clone()
            } else {
                format!("{} {}", c.scheme, params.join(", "))
            }
        })
        .collect();
    rendered.join(", ")
}

/// The fields of a token answer, read as any JSON. Everything else is skipped, not read:
/// serde_json does not check UTF-8 or number ranges in what it skips (H3), so re-reading the
/// whole answer as a `Value` would refuse answers the core rightly accepts.
#[derive(serde::Deserialize)]
struct TokenFields {
    token: Option<Value>,
    access_token: Option<Value>,
    expires_in: Option<Value>,
}

/// The token answer agrees with a direct reading of the distribution token spec.
fn check_token(body: &[u8]) {
    let got = parse_token(body);
    if body.len() > MAX_TOKEN_REPLY_BYTES {
        assert!(matches!(got, Err(TokenError::TooLarge { .. })));
        return;
    }
    let Ok(token) = got else { return };
    assert!(
        body.trim_ascii_start().starts_with(b"{"),
        "a token from something not a JSON object"
    );
    let fields: TokenFields = serde_json::from_slice(body).expect("the core read it");
    fn text(v: &Option<Value>) -> Option<&str> {
        v.as_ref().and_then(Value::as_str).filter(|t| !t.is_empty())
    }
    assert!(!token.token.is_empty());
    let want = text(&fields.token).or_else(|| text(&fields.access_token));
    assert_eq!(Some(token.token.as_str()), want);
    let lifetime = fields
        .expires_in
        .as_ref()
        .and_then(Value::as_u64)
        .unwrap_or(60);
    assert!(token.keep_seconds <= lifetime, "kept longer than it lives");
    assert!(token.keep_seconds >= lifetime / 2);
}

/// Target `docker_config`: a docker config, then after a NUL the registry host asked for (first
/// line) and, if a second line is `cfg`, the legacy `.dockercfg` key instead of
/// `.dockerconfigjson`.
pub fn run_docker_config(data: &[u8]) {
    let (config, control) = input::split(data);
    let control = String::from_utf8_lossy(control);
    let mut lines = control.lines();
    let registry = lines.next().unwrap_or("icr.io");
    let key = if lines.next() == Some("cfg") {
        DOCKER_CFG
    } else {
        DOCKER_CONFIG_JSON
    };
    let secret = Secret {
        namespace: "ns".into(),
        name: "pull".into(),
        data: BTreeMap::from([(key.to_string(), config.to_vec())]),
    };
    let got = docker_config::from_secret(registry, &secret);
    let want = model(config, key, registry);
    match (&got, &want) {
        (Ok(got), Ok(want)) => assert_eq!(got, want, "credentials for {registry}"),
        (Err(e), Err(kind)) => assert_eq!(error_kind(e), *kind, "{e}"),
        _ => panic!("core {got:?}, model {want:?}"),
    }
    for credential in got.iter().flatten() {
        assert!(
            !credential.username.is_empty(),
            "a credential without a user"
        );
    }
}

fn error_kind(error: &DockerConfigError) -> &'static str {
    match error {
        DockerConfigError::TooLarge { .. } => "too large",
        DockerConfigError::TooManyEntries { .. } => "too many",
        DockerConfigError::Malformed { .. } => "malformed",
        _ => "other",
    }
}

/// Docker's rules, as `docker login` and the kubelet read a config: every key naming exactly
/// the registry host (scheme and path ignored, case-insensitive, by its one name: `:443`
/// dropped, Docker Hub's aliases one) gives its `auth` (base64 `user:password`), else its
/// `username` and `password`; a credential needs a user name. Keys spelt exactly as the registry first, no duplicates.
fn model(config: &[u8], key: &str, registry: &str) -> Result<Vec<Credential>, &'static str> {
    if config.len() > MAX_CONFIG_BYTES {
        return Err("too large");
    }
    let Ok(Value::Object(mut document)) = serde_json::from_slice::<Value>(config) else {
        return Err("malformed");
    };
    let auths = if key == DOCKER_CONFIG_JSON {
        match document.remove("auths") {
            Some(Value::Object(auths)) => auths,
            _ => return Err("malformed"),
        }
    } else {
        document
    };
    if auths.len() > MAX_ENTRIES {
        return Err("too many");
    }
    let mut exact = Vec::new();
    let mut loose = Vec::new();
    for (name, entry) in &auths {
        if !same_registry(&host_of(name), &registry.to_ascii_lowercase()) {
            continue;
        }
        let Some(credential) = entry_credential(entry) else {
            continue;
        };
        if name == registry {
            exact.push(credential);
        } else {
            loose.push(credential);
        }
    }
    let mut unique: Vec<Credential> = Vec::new();
    for credential in exact.into_iter().chain(loose) {
        if !unique.contains(&credential) {
            unique.push(credential);
        }
    }
    Ok(unique)
}

fn host_of(key: &str) -> String {
    let key = key.trim().to_ascii_lowercase();
    let key = key
        .strip_prefix("https://")
        .or(key.strip_prefix("http://"))
        .unwrap_or(&key);
    key.chars().take_while(|&c| c != '/').collect()
}

/// Hosts are one registry when their one name is (`:443` dropped, Docker Hub's aliases one):
/// `canonical_host` is the core's, checked by the `reference` and `pattern` targets' models.
fn same_registry(host: &str, registry: &str) -> bool {
    canonical_host(host) == canonical_host(registry)
}

fn entry_credential(entry: &Value) -> Option<Credential> {
    let entry = entry.as_object()?;
    let field = |name: &str| match entry.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.as_str())),
        Some(_) => None, // a field of another type: the entry is unreadable
    };
    let (auth, username, password) = (field("auth")?, field("username")?, field("password")?);
    if let Some(found) = auth.and_then(decode) {
        return Some(found);
    }
    match (username, password) {
        (Some(u), Some(p)) if !u.is_empty() => Some(Credential {
            username: u.into(),
            password: p.into(),
        }),
        _ => None,
    }
}

fn decode(auth: &str) -> Option<Credential> {
    let auth = auth.trim();
    let bytes = STANDARD
        .decode(auth)
        .or_else(|_| STANDARD_NO_PAD.decode(auth))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let colon = text.find(':')?;
    (colon > 0).then(|| Credential {
        username: text[..colon].into(),
        password: text[colon + 1..].into(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_a_token_answer_skips_replays_clean() {
        super::run_challenges(include_bytes!(
            "../regressions/www_authenticate-invalid-utf8-in-ignored-field"
        ));
    }
}

//! Which Notary server holds a registry's trust data.
//!
//! Order: the policy's `trustServer`; a `--trust-server REGISTRY=URL` flag for that exact
//! registry host; the built-in map of public registries.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use portieris_core::reference::canonical_host;

/// Distinct policy `trustServer` texts remembered normalised; past this the memo starts over
/// (policies name a handful of servers; the bound only stops unbounded growth).
const POLICY_URLS: usize = 256;

/// Why no trust server could be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustServerError {
    #[error(
        "no trust server is known for registry {registry}: set trustServer in the policy or start portieris with --trust-server {registry}=https://…"
    )]
    Unknown { registry: String },
    #[error("trust server \"{url}\" is not an http(s) URL")]
    Invalid { url: String },
}

/// The trust server map: flags over built-ins.
#[derive(Debug, Default)]
pub struct TrustServers {
    by_registry: BTreeMap<String, Arc<str>>,
    /// Policy `trustServer` text → its normalised URL (or why it is refused): normalising
    /// parses the URL, which cost a measurable share of every warm admission.
    policy_urls: Mutex<HashMap<String, Result<Arc<str>, TrustServerError>>>,
}

impl TrustServers {
    /// `extra`: (registry host, URL) pairs from `--trust-server`.
    pub fn new(
        extra: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, TrustServerError> {
        let by_registry = extra
            .into_iter()
            .map(|(registry, url)| Ok((host_key(&registry), normalise(&url)?.into())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            by_registry,
            policy_urls: Mutex::default(),
        })
    }

    /// The base URL (no trailing `/`) of the trust server for images of `registry`.
    pub fn resolve(
        &self,
        registry: &str,
        policy: Option<&str>,
    ) -> Result<Arc<str>, TrustServerError> {
        if let Some(url) = policy.map(str::trim).filter(|url| !url.is_empty()) {
            return self.policy_url(url);
        }
        let key;
        let registry = if registry.bytes().any(|b| b.is_ascii_uppercase()) || registry.contains(':')
        {
            key = host_key(registry);
            key.as_str()
        } else {
            canonical_host(registry)
        };
        if let Some(url) = self.by_registry.get(registry) {
            return Ok(Arc::clone(url));
        }
        builtin(registry)
            .map(Arc::from)
            .ok_or(TrustServerError::Unknown {
                registry: registry.to_string(),
            })
    }

    /// A policy's `trustServer`, normalised once per distinct text.
    fn policy_url(&self, url: &str) -> Result<Arc<str>, TrustServerError> {
        let mut memo = self
            .policy_urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = memo.get(url) {
            return known.clone();
        }
        let normalised = normalise(url).map(Arc::from);
        if memo.len() >= POLICY_URLS {
            memo.clear();
        }
        memo.insert(url.to_string(), normalised.clone());
        normalised
    }
}

/// A registry host as the map keys it: lower case, by its one name (`quay.io:443` is
/// `quay.io`), as image references name it.
fn host_key(registry: &str) -> String {
    canonical_host(&registry.to_ascii_lowercase()).to_string()
}

/// Parses a `--trust-server` value, `REGISTRY=URL`.
pub fn parse_flag(text: &str) -> Result<(String, String), String> {
    let (registry, url) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not REGISTRY=URL"))?;
    let registry = registry.trim();
    if registry.is_empty() || registry.contains('/') {
        return Err(format!("`{registry}` is not a registry host"));
    }
    let url = normalise(url).map_err(|e| e.to_string())?;
    Ok((registry.to_string(), url))
}

/// The public registries' Notary servers, as Portieris knows them.
fn builtin(registry: &str) -> Option<String> {
    match registry {
        "docker.io" => Some("https://notary.docker.io".to_string()),
        "quay.io" => Some("https://quay.io:443".to_string()),
        // IBM Cloud Container Registry, global and regional (us.icr.io, private.de.icr.io…).
        host if host == "icr.io" || host.ends_with(".icr.io") => {
            Some(format!("https://{host}:4443"))
        }
        _ => None,
    }
}

/// Adds `https://` to a bare host and drops trailing slashes; only http(s) is accepted.
fn normalise(url: &str) -> Result<String, TrustServerError> {
    let url = url.trim();
    let invalid = || TrustServerError::Invalid {
        url: url.to_string(),
    };
    let full = match url.split_once("://") {
        Some((scheme, _))
            if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") =>
        {
            url.to_string()
        }
        Some(_) => return Err(invalid()),
        None => format!("https://{url}"),
    };
    let parsed = reqwest::Url::parse(&full).map_err(|_| invalid())?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(full.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(extra: &[(&str, &str)]) -> TrustServers {
        TrustServers::new(extra.iter().map(|(r, u)| (r.to_string(), u.to_string())))
            .expect("valid flags")
    }

    #[test]
    fn public_registries_have_built_in_servers() {
        let map = servers(&[]);
        let resolve = |r| map.resolve(r, None).expect("known").to_string();
        assert_eq!(resolve("docker.io"), "https://notary.docker.io");
        assert_eq!(resolve("quay.io"), "https://quay.io:443");
        assert_eq!(resolve("icr.io"), "https://icr.io:4443");
        assert_eq!(resolve("us.icr.io"), "https://us.icr.io:4443");
        assert_eq!(
            resolve("private.de.icr.io"),
            "https://private.de.icr.io:4443"
        );
    }

    #[test]
    fn the_policy_server_wins_and_is_normalised() {
        let map = servers(&[("icr.io", "https://flag.example")]);
        let got = map
            .resolve("icr.io", Some("notary.example:4443/"))
            .map(|u| u.to_string());
        assert_eq!(got, Ok("https://notary.example:4443".to_string()));
        let blank = map.resolve("icr.io", Some("  ")).map(|u| u.to_string());
        assert_eq!(
            blank,
            Ok("https://flag.example".to_string()),
            "blank means unset"
        );
    }

    #[test]
    fn a_flag_for_the_exact_host_overrides_the_built_in_map() {
        let map = servers(&[
            ("us.icr.io", "https://mirror.example"),
            ("127.0.0.1:5000", "https://127.0.0.1:4443"),
        ]);
        assert_eq!(
            map.resolve("us.icr.io", None).map(|u| u.to_string()),
            Ok("https://mirror.example".into())
        );
        assert_eq!(
            map.resolve("de.icr.io", None).map(|u| u.to_string()),
            Ok("https://de.icr.io:4443".into())
        );
        assert_eq!(
            map.resolve("127.0.0.1:5000", None).map(|u| u.to_string()),
            Ok("https://127.0.0.1:4443".into())
        );
    }

    #[test]
    fn policy_servers_are_normalised_once_and_answer_the_same_each_time() {
        let map = servers(&[("r.example", "https://flag.example")]);
        for _ in 0..3 {
            let good = map.resolve("x", Some(" notary.example/ "));
            assert_eq!(
                good.map(|u| u.to_string()),
                Ok("https://notary.example".into())
            );
            let bad = map.resolve("x", Some("ftp://notary.example"));
            assert!(
                matches!(bad, Err(TrustServerError::Invalid { .. })),
                "{bad:?}"
            );
        }
        let upper = map.resolve("R.Example", None).map(|u| u.to_string());
        assert_eq!(
            upper,
            Ok("https://flag.example".into()),
            "hosts are case-insensitive"
        );
        for i in 0..POLICY_URLS + 5 {
            let url = format!("n{i}.example");
            let got = map.resolve("x", Some(&url)).map(|u| u.to_string());
            assert_eq!(got, Ok(format!("https://{url}")));
        }
        let memo = map.policy_urls.lock().expect("memo").len();
        assert!(memo <= POLICY_URLS, "bounded: {memo}");
    }

    #[test]
    fn an_unknown_registry_names_itself_and_the_flag() {
        let error = servers(&[])
            .resolve("registry.example", None)
            .expect_err("unknown");
        let text = error.to_string();
        assert!(
            text.contains("registry.example") && text.contains("--trust-server"),
            "{text}"
        );
        // Suffixes only match on a label boundary.
        assert!(servers(&[]).resolve("evilicr.io", None).is_err());
        assert!(servers(&[]).resolve("docker.io.evil", None).is_err());
    }

    #[test]
    fn flags_parse_as_registry_equals_url() {
        assert_eq!(
            parse_flag("127.0.0.1:5000=https://127.0.0.1:4443/"),
            Ok(("127.0.0.1:5000".into(), "https://127.0.0.1:4443".into()))
        );
        assert!(parse_flag("no-equals").is_err());
        assert!(parse_flag("=https://x").is_err());
        assert!(parse_flag("a/b=https://x").is_err());
        assert!(parse_flag("r=ftp://x").is_err());
        assert!(parse_flag("r=https://").is_err());
    }
}

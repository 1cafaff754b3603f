//! Docker registry token authentication, as registries and Notary servers use it.
//!
//! A request goes out anonymously (or with what worked earlier in the session); a 401 carries
//! `WWW-Authenticate` challenges. For `Bearer realm=…,service=…,scope=…` each credential in
//! turn gets a token from the realm (OAuth2 password grant by POST, else a GET with basic auth;
//! without credentials an anonymous GET) and the request is retried with it; 401/403 from the
//! token server or on the retry moves on to the next credential. `Basic` challenges get the
//! credentials directly. Tokens are cached until shortly before they expire.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{RequestBuilder, Url};
use serde::Deserialize;

use super::{Credential, FetchError, Fetcher, Reply, parse_url, redact};

/// Sent as `client_id` in password grants.
pub const CLIENT_ID: &str = "portieris";
/// Token lifetime when the token server does not say (the distribution spec's minimum).
const DEFAULT_TOKEN_SECONDS: u64 = 60;
/// Tokens are dropped this long before they expire, so one never expires in flight.
const TOKEN_MARGIN_SECONDS: u64 = 10;

/// One `WWW-Authenticate` challenge: a lower-cased scheme and its parameters (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A Bearer challenge's token server and what to ask it for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Bearer {
    realm: String,
    service: Option<String>,
    scope: Option<String>,
}

/// A cached token: one per token server, service, scope and credential (`None`: anonymous).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    bearer: Bearer,
    credential: Option<Credential>,
}

/// What authenticated the last request of a session, reused for its next requests.
#[derive(Clone)]
enum Authorization {
    Bearer(String),
    Basic(usize),
}

/// Fetches from one server with a list of credentials. Cheap; make one per verification.
pub struct Session<'a> {
    fetcher: &'a Fetcher,
    credentials: &'a [Credential],
    /// The origin it was good for, and what worked.
    last: Mutex<Option<(String, Authorization)>>,
}

impl<'a> Session<'a> {
    pub(super) fn new(fetcher: &'a Fetcher, credentials: &'a [Credential]) -> Self {
        Self {
            fetcher,
            credentials,
            last: Mutex::new(None),
        }
    }

    /// GETs `url`: the body of a 2xx answer; any other status is [`FetchError::Status`].
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let url = parse_url(url)?;
        let reply = self.get_authenticated(&url).await?;
        if (200..300).contains(&reply.status) {
            Ok(reply.body)
        } else {
            Err(FetchError::Status {
                url: redact(&url),
                status: reply.status,
            })
        }
    }

    /// Like [`Session::get`], with 404 as `None`.
    pub async fn get_optional(&self, url: &str) -> Result<Option<Vec<u8>>, FetchError> {
        match self.get(url).await {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_authenticated(&self, url: &Url) -> Result<Reply, FetchError> {
        let origin = url.origin().ascii_serialization();
        let remembered = self.remembered(&origin);
        let reply = self.send(url, remembered.as_ref()).await?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let challenges: Vec<Challenge> = reply
            .headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        let (reply, worked) = self.answer(url, &challenges).await?;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((origin, worked));
        Ok(reply)
    }

    fn remembered(&self, origin: &str) -> Option<Authorization> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match &*last {
            Some((o, auth)) if o == origin => Some(auth.clone()),
            _ => None,
        }
    }

    /// Answers the challenges: Bearer if offered, else Basic.
    async fn answer(
        &self,
        url: &Url,
        challenges: &[Challenge],
    ) -> Result<(Reply, Authorization), FetchError> {
        let refused = |reason: String| FetchError::Auth {
            url: redact(url),
            reason,
        };
        if let Some(challenge) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = challenge
                .param("realm")
                .ok_or_else(|| refused("the Bearer challenge has no realm".to_string()))?;
            let bearer = Bearer {
                realm: realm.to_string(),
                service: challenge.param("service").map(str::to_string),
                scope: challenge.param("scope").map(str::to_string),
            };
            return self.answer_bearer(url, &bearer).await;
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return self.answer_basic(url).await;
        }
        Err(refused(
            "authentication required, without a Bearer or Basic challenge".to_string(),
        ))
    }

    async fn answer_bearer(
        &self,
        url: &Url,
        bearer: &Bearer,
    ) -> Result<(Reply, Authorization), FetchError> {
        if self.credentials.is_empty()
            && let Some(done) = self.try_token(url, bearer, None).await?
        {
            return Ok(done);
        }
        for (index, credential) in self.credentials.iter().enumerate() {
            if let Some(done) = self.try_token(url, bearer, Some(credential)).await? {
                return Ok(done);
            }
            tracing::debug!(url = %redact(url), credential = index + 1, "credential refused");
        }
        Err(self.no_valid_credential(url))
    }

    /// One credential: a cached token first (refetched once if refused), else a new one.
    /// `None`: this credential was refused.
    async fn try_token(
        &self,
        url: &Url,
        bearer: &Bearer,
        credential: Option<&Credential>,
    ) -> Result<Option<(Reply, Authorization)>, FetchError> {
        let key = TokenKey {
            bearer: bearer.clone(),
            credential: credential.cloned(),
        };
        if let Some(token) = self.fetcher.cached_token(&key) {
            let auth = Authorization::Bearer(token);
            let reply = self.send(url, Some(&auth)).await?;
            if !refused(reply.status) {
                return Ok(Some((reply, auth)));
            }
            self.fetcher.forget_token(&key);
        }
        let Some((token, ttl)) = self.fetcher.request_token(bearer, credential).await? else {
            return Ok(None);
        };
        let auth = Authorization::Bearer(token.clone());
        let reply = self.send(url, Some(&auth)).await?;
        if refused(reply.status) {
            return Ok(None);
        }
        self.fetcher.cache_token(key, token, ttl);
        Ok(Some((reply, auth)))
    }

    async fn answer_basic(&self, url: &Url) -> Result<(Reply, Authorization), FetchError> {
        if !credentials_allowed(url) {
            return Err(FetchError::Auth {
                url: redact(url),
                reason: "credentials are only sent over https".to_string(),
            });
        }
        for index in 0..self.credentials.len() {
            let auth = Authorization::Basic(index);
            let reply = self.send(url, Some(&auth)).await?;
            if !refused(reply.status) {
                return Ok((reply, auth));
            }
        }
        Err(self.no_valid_credential(url))
    }

    fn no_valid_credential(&self, url: &Url) -> FetchError {
        let reason = match self.credentials.len() {
            0 => "no valid imagePullSecret: access was refused without credentials and none is configured for this registry".to_string(),
            n => format!("no valid imagePullSecret: all {n} credentials for this registry were refused"),
        };
        FetchError::Auth {
            url: redact(url),
            reason,
        }
    }

    async fn send(&self, url: &Url, auth: Option<&Authorization>) -> Result<Reply, FetchError> {
        let request = self.fetcher.client().get(url.clone());
        let request = match auth {
            None => request,
            Some(Authorization::Bearer(token)) => request.bearer_auth(token),
            Some(Authorization::Basic(index)) => match self.credentials.get(*index) {
                Some(c) => request.basic_auth(&c.username, Some(&c.password)),
                None => request,
            },
        };
        self.fetcher.exchange(request, url).await
    }
}

fn refused(status: u16) -> bool {
    matches!(status, 401 | 403)
}

/// Passwords go over https only, or to this machine (test rigs).
fn credentials_allowed(url: &Url) -> bool {
    if url.scheme() == "https" {
        return true;
    }
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// A token server's answer (distribution token spec; OAuth2 servers say `access_token`).
#[derive(Deserialize)]
struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl Fetcher {
    fn cached_token(&self, key: &TokenKey) -> Option<String> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
    }

    fn cache_token(&self, key: TokenKey, token: String, ttl: Duration) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, token, ttl);
    }

    fn forget_token(&self, key: &TokenKey) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// A token and how long to keep it; `None` when the token server refused the credential.
    async fn request_token(
        &self,
        bearer: &Bearer,
        credential: Option<&Credential>,
    ) -> Result<Option<(String, Duration)>, FetchError> {
        let realm = parse_url(&bearer.realm)?;
        let reply = match credential {
            None => {
                self.exchange(self.token_get(&realm, bearer), &realm)
                    .await?
            }
            Some(credential) => {
                if !credentials_allowed(&realm) {
                    return Err(FetchError::Auth {
                        url: redact(&realm),
                        reason: "credentials are only sent to https token servers".to_string(),
                    });
                }
                self.password_grant(&realm, bearer, credential).await?
            }
        };
        if refused(reply.status) {
            return Ok(None);
        }
        if !(200..300).contains(&reply.status) {
            return Err(FetchError::Status {
                url: redact(&realm),
                status: reply.status,
            });
        }
        parse_token(&reply.body)
            .map(Some)
            .ok_or_else(|| FetchError::Invalid {
                url: redact(&realm),
                detail: "the token server's answer has no token".to_string(),
            })
    }

    /// POST of an OAuth2 password grant; servers without it (404, 405, some 400) get the
    /// classic GET with basic auth.
    async fn password_grant(
        &self,
        realm: &Url,
        bearer: &Bearer,
        credential: &Credential,
    ) -> Result<Reply, FetchError> {
        let mut form = vec![
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("username", credential.username.as_str()),
            ("password", credential.password.as_str()),
        ];
        if let Some(service) = &bearer.service {
            form.push(("service", service));
        }
        if let Some(scope) = &bearer.scope {
            form.push(("scope", scope));
        }
        let post = self.client().post(realm.clone()).form(&form);
        let reply = self.exchange(post, realm).await?;
        if !matches!(reply.status, 400 | 404 | 405) {
            return Ok(reply);
        }
        let get = self
            .token_get(realm, bearer)
            .basic_auth(&credential.username, Some(&credential.password));
        self.exchange(get, realm).await
    }

    /// GET realm?service=…&scope=… (one `scope` per space-separated scope, as docker sends).
    fn token_get(&self, realm: &Url, bearer: &Bearer) -> RequestBuilder {
        let mut url = realm.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &bearer.service {
                query.append_pair("service", service);
            }
            for scope in bearer.scope.iter().flat_map(|s| s.split_whitespace()) {
                query.append_pair("scope", scope);
            }
        }
        self.client().get(url)
    }
}

/// The token and how long to cache it.
fn parse_token(body: &[u8]) -> Option<(String, Duration)> {
    let reply: TokenReply = serde_json::from_slice(body).ok()?;
    let token = [reply.token, reply.access_token]
        .into_iter()
        .flatten()
        .find(|t| !t.is_empty())?;
    let seconds = reply.expires_in.unwrap_or(DEFAULT_TOKEN_SECONDS);
    let keep = seconds
        .saturating_sub(TOKEN_MARGIN_SECONDS)
        .max(seconds / 2);
    Some((token, Duration::from_secs(keep)))
}

/// Parses a `WWW-Authenticate` value (RFC 7235): one or more challenges, each a scheme and
/// comma-separated `name=value` parameters, values a token or a quoted string with `\`
/// escapes. A token68 (`Negotiate abc==`) is skipped. Malformed input gives what was parsed
/// before it.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut parser = Parser {
        bytes: value.as_bytes(),
        at: 0,
    };
    let mut challenges = Vec::new();
    loop {
        parser.skip(|b| b == b',' || is_space(b));
        let scheme = parser.token();
        if scheme.is_empty() {
            break;
        }
        let params = parser.params();
        challenges.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
    }
    challenges
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip(&mut self, what: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&what) {
            self.at += 1;
        }
    }

    fn token(&mut self) -> String {
        let start = self.at;
        self.skip(is_tchar);
        String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned()
    }

    /// Parameters up to the next challenge (a token not followed by `=`) or the end.
    fn params(&mut self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        let mut first = true;
        loop {
            let before = self.at;
            self.skip(is_space);
            let after_comma = self.peek() == Some(b',');
            self.skip(|b| b == b',' || is_space(b));
            let name = self.token();
            if name.is_empty() {
                // End, or a character no challenge may start with: stop here.
                self.at = if self.peek().is_some() {
                    self.bytes.len()
                } else {
                    self.at
                };
                return params;
            }
            self.skip(is_space);
            if self.peek() != Some(b'=') {
                if first && !after_comma && self.at > before {
                    continue; // a token68 credential
                }
                self.at = before; // the next challenge's scheme
                return params;
            }
            self.skip(|b| b == b'=');
            self.skip(is_space);
            match self.peek() {
                None | Some(b',') => {} // `name=` or a token68 ending in `=`
                Some(b'"') => params.push((name.to_ascii_lowercase(), self.quoted())),
                Some(_) => params.push((name.to_ascii_lowercase(), self.bare_value())),
            }
            first = false;
        }
    }

    /// An unquoted value: a token by the RFC, but servers send URLs unquoted too, so it runs
    /// to the next comma or space.
    fn bare_value(&mut self) -> String {
        let start = self.at;
        self.skip(|b| b != b',' && !is_space(b));
        String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned()
    }

    /// A quoted string from its opening quote; unterminated ones end at the end of input.
    fn quoted(&mut self) -> String {
        self.at += 1;
        let mut value = Vec::new();
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        value.push(escaped);
                        self.at += 1;
                    }
                }
                _ => value.push(b),
            }
        }
        String::from_utf8_lossy(&value).into_owned()
    }
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 7230 `tchar`, plus `/` so that token68 values are read whole.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_docker_hub_bearer_challenge_parses() {
        let value = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#;
        assert_eq!(
            parse_challenges(value),
            [challenge(
                "bearer",
                &[
                    ("realm", "https://auth.docker.io/token"),
                    ("service", "registry.docker.io"),
                    ("scope", "repository:library/nginx:pull")
                ]
            )]
        );
    }

    #[test]
    fn schemes_and_names_are_case_insensitive_and_tokens_need_no_quotes() {
        let value = "BEARER Realm=https://auth.example/token, SERVICE = notary";
        assert_eq!(
            parse_challenges(value),
            [challenge(
                "bearer",
                &[
                    ("realm", "https://auth.example/token"),
                    ("service", "notary")
                ]
            )]
        );
    }

    #[test]
    fn commas_and_escapes_inside_quotes_are_kept() {
        let value = r#"Bearer realm="https://a/t",scope="repository:x/y:pull,push",service="say \"hi\" \\o/""#;
        let parsed = parse_challenges(value);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].param("scope"), Some("repository:x/y:pull,push"));
        assert_eq!(parsed[0].param("service"), Some(r#"say "hi" \o/"#));
    }

    #[test]
    fn several_challenges_in_one_value_are_split() {
        let value = r#"Basic realm="registry", Bearer realm="https://a/t",service="s""#;
        assert_eq!(
            parse_challenges(value),
            [
                challenge("basic", &[("realm", "registry")]),
                challenge("bearer", &[("realm", "https://a/t"), ("service", "s")])
            ]
        );
    }

    #[test]
    fn token68_credentials_and_bare_schemes_are_skipped_over() {
        let value = "Negotiate abc/+def==, Basic, Bearer realm=r";
        assert_eq!(
            parse_challenges(value),
            [
                challenge("negotiate", &[]),
                challenge("basic", &[]),
                challenge("bearer", &[("realm", "r")])
            ]
        );
    }

    #[test]
    fn malformed_values_never_panic_and_keep_what_parsed() {
        for value in [
            "",
            ",,,",
            "\"",
            "Bearer realm=\"unterminated",
            "Bearer realm=",
            "Bearer =x",
            "Bearer realm=\"a\" junk \"q\"",
            "Bearer realm=\"\\",
            "ü",
        ] {
            let _ = parse_challenges(value);
        }
        assert_eq!(
            parse_challenges("Bearer realm=\"unterminated")[0].param("realm"),
            Some("unterminated")
        );
    }

    #[test]
    fn tokens_come_from_token_or_access_token_and_expire_early() {
        let (token, ttl) = parse_token(br#"{"token":"t","expires_in":300}"#).expect("token");
        assert_eq!((token.as_str(), ttl), ("t", Duration::from_secs(290)));
        let (token, ttl) = parse_token(br#"{"access_token":"a"}"#).expect("token");
        assert_eq!((token.as_str(), ttl), ("a", Duration::from_secs(50)));
        let (_, ttl) = parse_token(br#"{"token":"t","expires_in":4}"#).expect("token");
        assert_eq!(ttl, Duration::from_secs(2));
        assert!(parse_token(br#"{"token":""}"#).is_none());
        assert!(parse_token(b"not json").is_none());
    }

    #[test]
    fn credentials_go_over_https_or_loopback_only() {
        let allowed = |u: &str| credentials_allowed(&Url::parse(u).expect("url"));
        assert!(allowed("https://auth.example/token"));
        assert!(allowed("http://127.0.0.1:5001/token"));
        assert!(allowed("http://localhost/token"));
        assert!(allowed("http://[::1]/token"));
        assert!(!allowed("http://auth.example/token"));
    }
}

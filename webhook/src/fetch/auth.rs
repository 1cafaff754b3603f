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

use portieris_core::registry::challenge::MAX_TOKEN_REPLY_BYTES;
use portieris_core::registry::{Challenge, parse_challenges, parse_token};
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Url};

use super::{Credential, FetchError, Fetcher, MAX_BODY_BYTES, Reply, parse_url, redact};

/// Sent as `client_id` in password grants.
pub const CLIENT_ID: &str = "portieris";

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
    /// `Accept` of every request: registries choose the manifest format they serve by it.
    accept: Option<&'a str>,
    /// Largest response body read by every request.
    limit: usize,
}

impl<'a> Session<'a> {
    pub(super) fn new(fetcher: &'a Fetcher, credentials: &'a [Credential]) -> Self {
        Self {
            fetcher,
            credentials,
            last: Mutex::new(None),
            accept: None,
            limit: MAX_BODY_BYTES,
        }
    }

    /// The same session, reading at most `bytes` of every response: the reading stops, with
    /// [`FetchError::TooLarge`], as soon as a body passes it. Without it, [`MAX_BODY_BYTES`].
    pub fn limited(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    /// The same session, sending `accept` as the `Accept` header of every request.
    pub fn accepting(mut self, accept: &'a str) -> Self {
        self.accept = Some(accept);
        self
    }

    /// GETs `url`: the body of a 2xx answer; any other status is [`FetchError::Status`].
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.get_within(url, self.limit).await
    }

    /// Like [`Session::get`], reading at most `limit` bytes of this one answer.
    pub async fn get_within(&self, url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
        self.get_reply_within(url, limit)
            .await
            .map(|reply| reply.body)
    }

    /// Like [`Session::get`], with the answer's headers.
    pub async fn get_reply(&self, url: &str) -> Result<Reply, FetchError> {
        self.get_reply_within(url, self.limit).await
    }

    async fn get_reply_within(&self, url: &str, limit: usize) -> Result<Reply, FetchError> {
        let url = parse_url(url)?;
        let reply = self.get_authenticated(&url, limit).await?;
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(FetchError::Status {
                url: redact(&url),
                status: reply.status,
            })
        }
    }

    /// Like [`Session::get`], with 404 as `None`.
    pub async fn get_optional(&self, url: &str) -> Result<Option<Vec<u8>>, FetchError> {
        self.get_optional_within(url, self.limit).await
    }

    /// Like [`Session::get_optional`], reading at most `limit` bytes of this one answer.
    pub async fn get_optional_within(
        &self,
        url: &str,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        match self.get_within(url, limit).await {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_authenticated(&self, url: &Url, limit: usize) -> Result<Reply, FetchError> {
        let origin = url.origin().ascii_serialization();
        let remembered = self.remembered(&origin);
        let reply = self.send(url, remembered.as_ref(), limit).await?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let mut challenges: Vec<Challenge> = Vec::new();
        for value in reply.headers.get_all(WWW_AUTHENTICATE) {
            let Ok(value) = value.to_str() else { continue };
            let parsed = parse_challenges(value).map_err(|e| FetchError::Auth {
                url: redact(url),
                reason: e.to_string(),
            })?;
            challenges.extend(parsed);
        }
        let (reply, worked) = self.answer(url, &challenges, limit).await?;
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
        limit: usize,
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
            return self.answer_bearer(url, &bearer, limit).await;
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return self.answer_basic(url, limit).await;
        }
        Err(refused(
            "authentication required, without a Bearer or Basic challenge".to_string(),
        ))
    }

    async fn answer_bearer(
        &self,
        url: &Url,
        bearer: &Bearer,
        limit: usize,
    ) -> Result<(Reply, Authorization), FetchError> {
        if self.credentials.is_empty()
            && let Some(done) = self.try_token(url, bearer, None, limit).await?
        {
            return Ok(done);
        }
        for (index, credential) in self.credentials.iter().enumerate() {
            if let Some(done) = self.try_token(url, bearer, Some(credential), limit).await? {
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
        limit: usize,
    ) -> Result<Option<(Reply, Authorization)>, FetchError> {
        let key = TokenKey {
            bearer: bearer.clone(),
            credential: credential.cloned(),
        };
        if let Some(token) = self.fetcher.cached_token(&key) {
            let auth = Authorization::Bearer(token);
            let reply = self.send(url, Some(&auth), limit).await?;
            if !refused(reply.status) {
                return Ok(Some((reply, auth)));
            }
            self.fetcher.forget_token(&key);
        }
        let Some((token, ttl)) = self.fetcher.request_token(bearer, credential).await? else {
            return Ok(None);
        };
        let auth = Authorization::Bearer(token.clone());
        let reply = self.send(url, Some(&auth), limit).await?;
        if refused(reply.status) {
            return Ok(None);
        }
        self.fetcher.cache_token(key, token, ttl);
        Ok(Some((reply, auth)))
    }

    async fn answer_basic(
        &self,
        url: &Url,
        limit: usize,
    ) -> Result<(Reply, Authorization), FetchError> {
        if !credentials_allowed(url) {
            return Err(FetchError::Auth {
                url: redact(url),
                reason: "credentials are only sent over https".to_string(),
            });
        }
        for index in 0..self.credentials.len() {
            let auth = Authorization::Basic(index);
            let reply = self.send(url, Some(&auth), limit).await?;
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

    async fn send(
        &self,
        url: &Url,
        auth: Option<&Authorization>,
        limit: usize,
    ) -> Result<Reply, FetchError> {
        let mut request = self.fetcher.client().get(url.clone());
        if let Some(accept) = self.accept {
            request = request.header(ACCEPT, accept);
        }
        let request = match auth {
            None => request,
            Some(Authorization::Bearer(token)) => request.bearer_auth(token),
            Some(Authorization::Basic(index)) => match self.credentials.get(*index) {
                Some(c) => request.basic_auth(&c.username, Some(&c.password)),
                None => request,
            },
        };
        self.fetcher.exchange(request, url, limit).await
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
                let get = self.token_get(&realm, bearer);
                self.exchange(get, &realm, MAX_TOKEN_REPLY_BYTES).await?
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
        let token = parse_token(&reply.body).map_err(|e| FetchError::Invalid {
            url: redact(&realm),
            detail: e.to_string(),
        })?;
        Ok(Some((token.token, Duration::from_secs(token.keep_seconds))))
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
        let reply = self.exchange(post, realm, MAX_TOKEN_REPLY_BYTES).await?;
        if !matches!(reply.status, 400 | 404 | 405) {
            return Ok(reply);
        }
        let get = self
            .token_get(realm, bearer)
            .basic_auth(&credential.username, Some(&credential.password));
        self.exchange(get, realm, MAX_TOKEN_REPLY_BYTES).await
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

#[cfg(test)]
mod tests {
    use super::*;

    // The challenge and token parsers are tested (and fuzzed) in portieris-core's `registry`.

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

//! `WWW-Authenticate` challenges (RFC 7235) and the token server's answer (the distribution
//! token spec), as Docker registries and Notary servers send them.
//!
//! Hand-written: the HTTP crates parse header *lines*, not the challenge grammar, and the
//! crates that do parse challenges are std-only and refuse the unquoted URLs registries send.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;

pub use crate::limits::MAX_CHALLENGE_BYTES as MAX_HEADER_BYTES;
pub use crate::limits::MAX_TOKEN_REPLY_BYTES;
/// Token lifetime when the token server does not say (the distribution spec's minimum).
pub const DEFAULT_TOKEN_SECONDS: u64 = 60;
/// Tokens are dropped this long before they expire, so one never expires in flight.
pub const TOKEN_MARGIN_SECONDS: u64 = 10;

/// One `WWW-Authenticate` challenge: a lower-cased scheme and its parameters (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The first parameter called `name` (lower case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a `WWW-Authenticate` value was not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The value is longer than [`MAX_HEADER_BYTES`].
    TooLong { bytes: usize },
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { bytes } => write!(
                f,
                "WWW-Authenticate value of {bytes} bytes, more than {MAX_HEADER_BYTES}"
            ),
        }
    }
}

impl core::error::Error for ChallengeError {}

/// Parses a `WWW-Authenticate` value (RFC 7235): one or more challenges, each a scheme and
/// comma-separated `name=value` parameters, values a token or a quoted string with `\`
/// escapes. A token68 (`Negotiate abc==`) is skipped. Malformed input gives what was parsed
/// before it; only a value over [`MAX_HEADER_BYTES`] is an error.
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(ChallengeError::TooLong { bytes: value.len() });
    }
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
    Ok(challenges)
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
        lossy(self.bytes.get(start..self.at).unwrap_or_default())
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
        lossy(self.bytes.get(start..self.at).unwrap_or_default())
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
        lossy(&value)
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 7230 `tchar`, plus `/` so that token68 values are read whole.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&b)
}

/// A bearer token and how long to keep it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// Seconds to cache it: its lifetime less a margin, and never less than half of it.
    pub keep_seconds: u64,
}

impl fmt::Debug for Token {
    // Tokens are credentials: never in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("token", &"<redacted>")
            .field("keep_seconds", &self.keep_seconds)
            .finish()
    }
}

/// Why a token server's answer gave no token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The answer is longer than [`MAX_TOKEN_REPLY_BYTES`].
    TooLarge { bytes: usize },
    /// Not a JSON object with string `token`/`access_token` and integer `expires_in`.
    Malformed,
    /// Neither `token` nor `access_token` is a non-empty string.
    NoToken,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes } => write!(
                f,
                "the token server's answer of {bytes} bytes is larger than {MAX_TOKEN_REPLY_BYTES}"
            ),
            Self::Malformed => f.write_str("the token server's answer is not a token response"),
            Self::NoToken => f.write_str("the token server's answer has no token"),
        }
    }
}

impl core::error::Error for TokenError {}

/// A token server's answer (distribution token spec; OAuth2 servers say `access_token`).
#[derive(Deserialize)]
struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// The token of a token server's answer and how long to cache it.
pub fn parse_token(body: &[u8]) -> Result<Token, TokenError> {
    if body.len() > MAX_TOKEN_REPLY_BYTES {
        return Err(TokenError::TooLarge { bytes: body.len() });
    }
    let reply: TokenReply = serde_json::from_slice(body).map_err(|_| TokenError::Malformed)?;
    let token = [reply.token, reply.access_token]
        .into_iter()
        .flatten()
        .find(|t| !t.is_empty())
        .ok_or(TokenError::NoToken)?;
    let seconds = reply.expires_in.unwrap_or(DEFAULT_TOKEN_SECONDS);
    let keep_seconds = seconds
        .saturating_sub(TOKEN_MARGIN_SECONDS)
        .max(seconds / 2);
    Ok(Token {
        token,
        keep_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn challenge(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn parsed(value: &str) -> Vec<Challenge> {
        parse_challenges(value).expect("a value under the limit")
    }

    #[test]
    fn a_docker_hub_bearer_challenge_parses() {
        let value = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#;
        assert_eq!(
            parsed(value),
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
            parsed(value),
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
        let parsed = parsed(value);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].param("scope"), Some("repository:x/y:pull,push"));
        assert_eq!(parsed[0].param("service"), Some(r#"say "hi" \o/"#));
    }

    #[test]
    fn several_challenges_in_one_value_are_split() {
        let value = r#"Basic realm="registry", Bearer realm="https://a/t",service="s""#;
        assert_eq!(
            parsed(value),
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
            parsed(value),
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
            let _ = parsed(value);
        }
        assert_eq!(
            parsed("Bearer realm=\"unterminated")[0].param("realm"),
            Some("unterminated")
        );
    }

    #[test]
    fn a_value_over_the_limit_is_refused_and_one_at_it_parses() {
        let padding = "a".repeat(MAX_HEADER_BYTES - "Bearer realm=".len());
        let at_limit = ["Bearer realm=", &padding].concat();
        assert_eq!(parsed(&at_limit)[0].param("realm"), Some(padding.as_str()));
        let over = [at_limit.as_str(), "b"].concat();
        let error = parse_challenges(&over).expect_err("one byte over the limit");
        assert_eq!(
            error.to_string(),
            "WWW-Authenticate value of 16385 bytes, more than 16384"
        );
    }

    #[test]
    fn tokens_come_from_token_or_access_token_and_expire_early() {
        let token = parse_token(br#"{"token":"t","expires_in":300}"#).expect("token");
        assert_eq!((token.token.as_str(), token.keep_seconds), ("t", 290));
        let token = parse_token(br#"{"access_token":"a"}"#).expect("token");
        assert_eq!((token.token.as_str(), token.keep_seconds), ("a", 50));
        let token = parse_token(br#"{"token":"t","expires_in":4}"#).expect("token");
        assert_eq!(token.keep_seconds, 2);
        assert_eq!(parse_token(br#"{"token":""}"#), Err(TokenError::NoToken));
        assert_eq!(parse_token(b"not json"), Err(TokenError::Malformed));
    }

    #[test]
    fn a_token_answer_over_the_limit_is_refused_before_it_is_read() {
        let mut body = vec![b' '; MAX_TOKEN_REPLY_BYTES];
        body.extend_from_slice(br#"{"token":"t"}"#);
        let error = parse_token(&body).expect_err("over the limit");
        assert_eq!(error, TokenError::TooLarge { bytes: body.len() });
        assert!(error.to_string().contains("larger than 262144"), "{error}");
    }

    // Reproducer: fuzz/regressions/www_authenticate-invalid-utf8-in-ignored-field (H3). The
    // unknown field is skipped without being read, as Go's decoder does; the token is read.
    #[test]
    fn unknown_fields_of_a_token_answer_are_skipped_unread() {
        let body = include_bytes!(
            "../../../fuzz/regressions/www_authenticate-invalid-utf8-in-ignored-field"
        );
        let token = parse_token(body).expect("the token fields are valid");
        // No `expires_in` (the fuzzer mangled its name): 60 s, less the 10 s margin.
        assert_eq!((token.token.as_str(), token.keep_seconds), ("a", 50));
    }

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let token = parse_token(br#"{"token":"s3cret"}"#).expect("token");
        let shown = alloc::format!("{token:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}

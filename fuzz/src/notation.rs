//! Notary Project (Notation) signatures (`portieris_core::notation`): the envelope reader
//! (`notation_envelope`), the trust policy document and its trusted identities
//! (`notation_policy`) and the CRL reader and revocation check (`notation_crl`).
//!
//! The models here are the harness's own: the signed parts of an envelope are found without
//! the core's JWS and COSE readers, trust policy selection is a linear search written from the
//! specification, distinguished names are read by a second RFC 4514 reader, and a CRL's signed
//! part is cut out of its DER by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portieris_core::limits::{
    MAX_CHAIN_CERTIFICATES, MAX_NOTATION_ENVELOPE_BYTES, MAX_TIMESTAMP_BYTES,
    MAX_TRUST_POLICY_BYTES, MAX_TRUST_POLICY_STATEMENTS,
};
use portieris_core::notation::envelope::{
    Descriptor, Envelope, EnvelopeError, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS,
};
use portieris_core::notation::identity::DistinguishedName;
use portieris_core::notation::revocation::{self, Crls, RevocationProblem};
use portieris_core::notation::trust_policy::TrustPolicy;
use portieris_core::time::UnixTime;
use serde_json::Value;

use crate::input;

macro_rules! fixture {
    ($dir:literal, $name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../core/tests/fixtures/notation/", $dir, $name)).as_slice(),
        )
    };
}

/// Every envelope of the fixtures: notation-go's (ours) and the Notary Project's.
pub const ENVELOPES: [(&str, &[u8]); 28] = [
    fixture!("envelopes/", "cose-cdp.cose"),
    fixture!("envelopes/", "cose-ec-tsa.cose"),
    fixture!("envelopes/", "cose-ec.cose"),
    fixture!("envelopes/", "cose-expired-leaf-tsa.cose"),
    fixture!("envelopes/", "cose-expiry.cose"),
    fixture!("envelopes/", "cose-rsa.cose"),
    fixture!("envelopes/", "cose-sa.cose"),
    fixture!("envelopes/", "cose-tampered.cose"),
    fixture!("envelopes/", "cose-wrong-eku.cose"),
    fixture!("envelopes/", "jws-ec.jws"),
    fixture!("envelopes/", "jws-expired-leaf.jws"),
    fixture!("envelopes/", "jws-expiry-passed.jws"),
    fixture!("envelopes/", "jws-revoked.jws"),
    fixture!("envelopes/", "jws-rsa-tsa.jws"),
    fixture!("envelopes/", "jws-rsa.jws"),
    fixture!("envelopes/", "jws-sa-expired-leaf.jws"),
    fixture!("envelopes/", "jws-sa.jws"),
    fixture!("envelopes/", "jws-short-leaf-tsa.jws"),
    fixture!("envelopes/", "jws-tampered.jws"),
    fixture!("envelopes/", "jws-untrusted.jws"),
    fixture!("envelopes/", "jws-wrong-eku.jws"),
    fixture!("spec/envelopes/", "coseExpiredWithTimestamp.sig"),
    fixture!("spec/envelopes/", "coseWithTimestamp.sig"),
    fixture!("spec/envelopes/", "jwsExpiredWithTimestamp.sig"),
    fixture!("spec/envelopes/", "jwsWithTimestamp.sig"),
    fixture!("spec/envelopes/", "timestampAfterNotAfter.sig"),
    fixture!("spec/envelopes/", "timestampBeforeNotBefore.sig"),
    fixture!("spec/envelopes/", "withoutTimestamp.sig"),
];

/// Whether a fixture envelope is COSE (a tagged COSE_Sign1 starts with tag 18, `0xd2`).
fn is_cose(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0xd2)
}

fn media_type(cose: bool) -> &'static str {
    if cose {
        MEDIA_TYPE_COSE
    } else {
        MEDIA_TYPE_JWS
    }
}

/// What a signature vouches for: the payload's descriptor and the protected header's
/// attributes. Nothing else of an envelope is signed.
type Signed = (Descriptor, String, String, UnixTime, Option<UnixTime>);

fn signed(envelope: &Envelope) -> Signed {
    (
        envelope.target.clone(),
        envelope.scheme.to_string(),
        envelope.algorithm.to_string(),
        envelope.signing_time,
        envelope.expiry,
    )
}

/// The signed parts of an envelope, found without the core's readers: for JWS the
/// `protected` and `payload` strings of the JSON object; for COSE the protected header's bytes
/// and the payload's (the JSON text, found by its first member).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignedParts {
    protected: Vec<u8>,
    payload: Vec<u8>,
}

/// Only the two members are read: serde_json does not check the UTF-8 of what it skips, and
/// neither does the core (the unprotected header's unknown members, which notation ignores),
/// so a `Value` would refuse envelopes the core rightly opens (H4).
fn jws_parts(bytes: &[u8]) -> Option<SignedParts> {
    #[derive(serde::Deserialize)]
    struct Signed {
        protected: String,
        payload: String,
    }
    let signed: Signed = serde_json::from_slice(bytes).ok()?;
    Some(SignedParts {
        protected: signed.protected.into_bytes(),
        payload: signed.payload.into_bytes(),
    })
}

/// The protected header's content range in a fixture COSE envelope (`d2 84 <bstr>`).
fn cose_protected_range(bytes: &[u8]) -> Option<(usize, usize)> {
    if bytes.get(..2)? != [0xd2, 0x84] {
        return None;
    }
    let (start, len) = match *bytes.get(2)? {
        b @ 0x40..=0x57 => (3, usize::from(b - 0x40)),
        0x58 => (4, usize::from(*bytes.get(3)?)),
        0x59 => (
            5,
            usize::from(u16::from_be_bytes([*bytes.get(3)?, *bytes.get(4)?])),
        ),
        _ => return None,
    };
    (start + len <= bytes.len()).then_some((start, start + len))
}

/// Where a fixture COSE envelope's payload starts (notation writes `{"targetArtifact"…`).
fn cose_payload_start(bytes: &[u8]) -> Option<usize> {
    find(bytes, br#"{"targetArtifact""#)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Known {
    /// What the fixtures that open vouch for.
    signed: Vec<Signed>,
    /// Their signed parts, JWS then COSE (for COSE the payload is its first 64 bytes).
    jws: Vec<SignedParts>,
    cose: Vec<SignedParts>,
    /// Indexes into [`ENVELOPES`] of those that open.
    opening: Vec<usize>,
}

fn known() -> &'static Known {
    static KNOWN: OnceLock<Known> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut known = Known {
            signed: Vec::new(),
            jws: Vec::new(),
            cose: Vec::new(),
            opening: Vec::new(),
        };
        for (index, (_, bytes)) in ENVELOPES.iter().enumerate() {
            let cose = is_cose(bytes);
            let Ok(envelope) = Envelope::open(media_type(cose), bytes) else {
                continue;
            };
            known.signed.push(signed(&envelope));
            known.opening.push(index);
            if cose {
                let (start, end) = cose_protected_range(bytes).expect("a fixture's header");
                let payload = cose_payload_start(bytes).expect("a fixture's payload");
                known.cose.push(SignedParts {
                    protected: bytes[start..end].to_vec(),
                    payload: bytes[payload..payload + 64].to_vec(),
                });
            } else {
                known.jws.push(jws_parts(bytes).expect("a fixture's JSON"));
            }
        }
        known
    })
}

/// `notation_envelope`: the first byte's low bit picks the media type (0 JWS, 1 COSE), its
/// bits 1–3 a size mode (7: padded past the limit; 6: padded with spaces up to the limit
/// exactly); the rest is the envelope.
pub fn run_envelope(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let cose = selector & 1 == 1;
    let media_type = media_type(cose);
    let opened = Envelope::open(media_type, rest);
    if rest.len() > MAX_NOTATION_ENVELOPE_BYTES {
        assert!(
            matches!(opened, Err(EnvelopeError::TooLarge { .. })),
            "{opened:?}"
        );
        return;
    }
    assert!(
        !matches!(opened, Err(EnvelopeError::TooLarge { .. })),
        "{} bytes refused as too large",
        rest.len()
    );
    match (selector >> 1) & 7 {
        7 => {
            let mut padded = rest.to_vec();
            padded.resize(MAX_NOTATION_ENVELOPE_BYTES + 1, b' ');
            let refused = Envelope::open(media_type, &padded);
            assert!(
                matches!(refused, Err(EnvelopeError::TooLarge { .. })),
                "{refused:?}"
            );
        }
        6 if !cose => {
            // Whitespace after the JSON text: the same envelope, at the limit exactly.
            let mut padded = rest.to_vec();
            padded.resize(MAX_NOTATION_ENVELOPE_BYTES, b' ');
            let again = Envelope::open(media_type, &padded);
            if let Ok(envelope) = &opened {
                assert_eq!(again.as_ref(), Ok(envelope), "padding changed the envelope");
            } else {
                assert!(again.is_err(), "padding opened an envelope: {again:?}");
            }
        }
        _ => {}
    }
    if let Ok(envelope) = &opened {
        check_opened(envelope, rest, cose);
    }
    mutate_a_fixture(data);
}

/// What opens is a fixture's signed content (nothing here can make a signature), with a leaf
/// and a signature, within the limits.
fn check_opened(envelope: &Envelope, bytes: &[u8], cose: bool) {
    assert!(!envelope.chain.is_empty(), "opened without a certificate");
    assert!(envelope.chain.len() <= MAX_CHAIN_CERTIFICATES);
    assert!(!envelope.signature.is_empty(), "opened without a signature");
    assert!(
        envelope
            .timestamp
            .as_ref()
            .is_none_or(|t| t.len() <= MAX_TIMESTAMP_BYTES)
    );
    assert!(envelope.expiry.is_none_or(|e| e > envelope.signing_time));
    assert!(
        digest_model(&envelope.target.digest),
        "{:?}",
        envelope.target
    );
    let known = known();
    assert!(
        known.signed.contains(&signed(envelope)),
        "an envelope opened with signed content no fixture has: {envelope:?}"
    );
    if cose {
        let signed_by_a_fixture = known.cose.iter().any(|parts| {
            find(bytes, &parts.protected).is_some() && find(bytes, &parts.payload).is_some()
        });
        assert!(
            signed_by_a_fixture,
            "a COSE envelope opened without a fixture's signed bytes"
        );
    } else {
        let parts = jws_parts(bytes).expect("an envelope that opens is a JSON object");
        assert!(
            known.jws.contains(&parts),
            "a JWS envelope opened without a fixture's protected header and payload"
        );
    }
}

/// `<sha256|sha384|sha512>:<lower-case hex of the length>`.
fn digest_model(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == length
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A fixture that opens, changed in one byte of a signed part (protected header, payload) or
/// of the signature, as the input's hash chooses: it must not open.
fn mutate_a_fixture(data: &[u8]) {
    let known = known();
    let hash = fnv(data);
    let index = known.opening[(hash % known.opening.len() as u64) as usize];
    let (name, bytes) = ENVELOPES[index];
    let part = (hash >> 16) % 3;
    let position = (hash >> 20) as usize;
    let change = ((hash >> 52) % 63 + 1) as u8;
    let mutated = if is_cose(bytes) {
        let (start, end) = cose_protected_range(bytes).expect("a fixture's header");
        let at = match part {
            0 => start + position % (end - start),
            1 => cose_payload_start(bytes).expect("a fixture's payload") + position % 64,
            // The signature is the array's last member, 64 bytes or more.
            _ => bytes.len() - 1 - position % 32,
        };
        let mut mutated = bytes.to_vec();
        mutated[at] ^= change;
        mutated
    } else {
        let mut value: Value = serde_json::from_slice(bytes).expect("a fixture's JSON");
        let field = ["protected", "payload", "signature"][part as usize];
        let text = value[field].as_str().expect("a fixture's field").as_bytes();
        let at = position % text.len();
        let old = BASE64URL.iter().position(|&c| c == text[at]).unwrap_or(0);
        let mut text = text.to_vec();
        text[at] = BASE64URL[(old + usize::from(change)) % 64];
        value[field] = Value::String(String::from_utf8(text).expect("base64url"));
        serde_json::to_vec(&value).expect("JSON")
    };
    let opened = Envelope::open(media_type(is_cose(bytes)), &mutated);
    assert!(
        opened.is_err(),
        "{name} changed in its signed part or signature still opens: {opened:?}"
    );
}

/// `notation_policy`: a trust policy document, then after the last NUL byte lines that are
/// repositories to select a statement for and distinguished names to read.
pub fn run_policy(data: &[u8]) {
    let (document, control) = input::split(data);
    let lines: Vec<String> = String::from_utf8_lossy(control)
        .lines()
        .map(String::from)
        .collect();
    for line in &lines {
        check_dn(line);
    }
    // The document's identities, as its trustedIdentities list them.
    if let Ok(value) = serde_json::from_slice::<Value>(document) {
        for identity in identities_of(&value) {
            if let Some(dn) = identity.strip_prefix("x509.subject:") {
                check_dn(dn);
            }
        }
    }
    let parsed = TrustPolicy::parse(document);
    if document.len() > MAX_TRUST_POLICY_BYTES {
        assert!(parsed.is_err());
        return;
    }
    let Ok(policy) = parsed else { return };
    check_policy(&policy);
    let mut repositories: BTreeSet<String> = [
        "registry.example/ca",
        "registry.example/tsa",
        "docker.io/library/nginx",
        "registry.example",
        "*",
        "",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    repositories.extend(lines);
    for statement in &policy.statements {
        repositories.extend(statement.scopes.iter().flatten().cloned());
    }
    for repository in &repositories {
        let selected = policy.select(repository).map(|s| s.name.as_str());
        assert_eq!(
            selected,
            select_model(&policy, repository),
            "{repository:?}"
        );
    }
    // The same document written again by serde_json (members sorted, no whitespace, escapes
    // resolved) reads the same.
    let value: Value = serde_json::from_slice(document).expect("an accepted document is JSON");
    let again = TrustPolicy::parse(&serde_json::to_vec(&value).expect("JSON"));
    assert_eq!(
        again.as_ref(),
        Ok(&policy),
        "rewritten, the document reads differently"
    );
}

fn identities_of(value: &Value) -> Vec<&str> {
    let statements = value.get("trustPolicies").and_then(Value::as_array);
    statements
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("trustedIdentities").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// What notation's `OCIDocument.Validate` guarantees of a document it accepts.
fn check_policy(policy: &TrustPolicy) {
    let statements = &policy.statements;
    assert!(!statements.is_empty() && statements.len() <= MAX_TRUST_POLICY_STATEMENTS);
    let names: BTreeSet<&str> = statements.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), statements.len(), "two statements share a name");
    assert!(!names.contains(""));
    let global = statements.iter().filter(|s| s.scopes.is_none()).count();
    assert!(global <= 1, "{global} global statements");
    let mut scopes = BTreeSet::new();
    for statement in statements {
        for scope in statement.scopes.iter().flatten() {
            assert!(
                scopes.insert(scope.as_str()),
                "scope {scope:?} listed twice"
            );
            assert!(scope_model(scope), "scope {scope:?}");
        }
        if let Some(listed) = &statement.scopes {
            assert!(!listed.is_empty());
        }
        match statement.actions {
            None => assert!(statement.stores.is_empty() && statement.identities.is_none()),
            Some(_) => {
                assert!(!statement.stores.is_empty());
                assert!(statement.identities.as_ref().is_none_or(|i| !i.is_empty()));
            }
        }
        for store in &statement.stores {
            let name_ok = !store.name.is_empty()
                && store
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            assert!(name_ok, "store {store}");
        }
        // No trusted identity is another's subset (they would overlap).
        for (i, a) in statement.identities.iter().flatten().enumerate() {
            assert!(a.is_subset_of(a));
            for (j, b) in statement.identities.iter().flatten().enumerate() {
                assert!(i == j || !a.is_subset_of(b), "overlapping identities");
            }
        }
    }
}

/// `registry[:port]/path`: no wildcard, no tag or digest, no upper case in the path.
fn scope_model(scope: &str) -> bool {
    let Some((registry, path)) = scope.split_once('/') else {
        return false;
    };
    !registry.is_empty()
        && !path.is_empty()
        && !scope.contains(['*', '@'])
        && !path.contains(':')
        && !path.chars().any(|c| c.is_ascii_uppercase())
        && path.split('/').all(|part| !part.is_empty())
}

/// The statement that lists the repository exactly, else the global one.
fn select_model<'a>(policy: &'a TrustPolicy, repository: &str) -> Option<&'a str> {
    let mut global = None;
    for statement in &policy.statements {
        match &statement.scopes {
            Some(scopes) if scopes.iter().any(|s| s == repository) => {
                return Some(&statement.name);
            }
            Some(_) => {}
            None => global = global.or(Some(statement.name.as_str())),
        }
    }
    global
}

/// A distinguished name read by the core agrees with the harness's reader; written again with
/// every value byte hex-escaped, it reads the same.
fn check_dn(text: &str) {
    let parsed = DistinguishedName::parse(text);
    let model = dn_model(text);
    match (&parsed, &model) {
        (Ok(dn), Some(attributes)) => {
            assert!(dn.is_subset_of(dn));
            let written = attributes
                .iter()
                .map(|(kind, value)| {
                    let hex: String = value.bytes().map(|b| format!("\\{b:02X}")).collect();
                    format!("{kind}={hex}")
                })
                .collect::<Vec<_>>()
                .join(", ");
            let again = DistinguishedName::parse(&written);
            assert_eq!(again.as_ref(), Ok(dn), "{text:?} written as {written:?}");
            // Without one attribute it is a subset, and the whole is not (but if it was all).
            if let Some(kind) = attributes
                .keys()
                .find(|k| !["C", "ST", "O"].contains(&k.as_str()))
            {
                let fewer = written
                    .split(", ")
                    .filter(|rdn| !rdn.starts_with(&format!("{kind}=")))
                    .collect::<Vec<_>>()
                    .join(", ");
                let fewer = DistinguishedName::parse(&fewer).expect("still C, ST and O");
                assert!(fewer.is_subset_of(dn) && !dn.is_subset_of(&fewer));
            }
        }
        (Err(_), None) => {}
        _ => panic!("{text:?}: the core says {parsed:?}, the model {model:?}"),
    }
}

/// RFC 4514 as notation reads identities: `TYPE=value` separated by unescaped `,` or `;`, no
/// `+`, no `#hex` value, values with `\` escapes (a special character or two hex digits),
/// leading white space and trailing unescaped spaces dropped, the type case-insensitive (`S`
/// is `ST`), each type once, `C`, `ST` and `O` not empty.
fn dn_model(text: &str) -> Option<BTreeMap<String, String>> {
    if text.contains("=#") {
        return None;
    }
    let mut rdns = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == ';' {
            rdns.push(String::new());
            continue;
        } else if c == '+' {
            return None;
        }
        rdns.last_mut().expect("one").push(c);
    }
    let mut attributes = BTreeMap::new();
    for rdn in rdns {
        let equals = rdn.find('=')?;
        let kind = rdn[..equals].trim().to_ascii_uppercase();
        if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return None;
        }
        let kind = if kind == "S" { "ST".to_string() } else { kind };
        let value = dn_value(&rdn[equals + 1..])?;
        if attributes.insert(kind, value).is_some() {
            return None;
        }
    }
    let present = |k: &str| attributes.get(k).is_some_and(|v: &String| !v.is_empty());
    (present("C") && present("ST") && present("O")).then_some(attributes)
}

fn dn_value(raw: &str) -> Option<String> {
    let chars: Vec<char> = raw
        .trim_start_matches(char::is_whitespace)
        .chars()
        .collect();
    let mut bytes = Vec::new();
    let mut keep = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            bytes.extend_from_slice(c.to_string().as_bytes());
            continue;
        }
        let next = *chars.get(i)?;
        i += 1;
        if next.is_ascii_hexdigit() {
            let low = chars.get(i).filter(|c| c.is_ascii_hexdigit())?;
            i += 1;
            let byte = u8::from_str_radix(&format!("{next}{low}"), 16).ok()?;
            bytes.push(byte);
        } else if ",+\"\\<>;= #".contains(next) {
            bytes.push(next as u8);
        } else {
            return None;
        }
        keep = bytes.len();
    }
    while bytes.len() > keep && bytes.last() == Some(&b' ') {
        bytes.pop();
    }
    String::from_utf8(bytes).ok()
}

/// The fixtures' chain for the revoked leaf (serial 0x1004): leaf, intermediate, root.
fn revoked_chain() -> &'static [Vec<u8>] {
    static CHAIN: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CHAIN.get_or_init(|| {
        [
            include_str!("../../core/tests/fixtures/notation/pki/leaf-revoked.pem"),
            include_str!("../../core/tests/fixtures/notation/pki/intermediate.pem"),
            include_str!("../../core/tests/fixtures/notation/pki/root.pem"),
        ]
        .iter()
        .map(|pem| pem_body(pem.as_bytes()).expect("a fixture certificate"))
        .collect()
    })
}

pub const CRL_REVOKED: &[u8] =
    include_bytes!("../../core/tests/fixtures/notation/pki/crl-revoked.der");
pub const CRL_EMPTY: &[u8] = include_bytes!("../../core/tests/fixtures/notation/pki/crl-empty.der");
pub const CRL_ROOT: &[u8] = include_bytes!("../../core/tests/fixtures/notation/pki/crl-root.der");

/// The first PEM block's base64 body, decoded.
fn pem_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN")?;
    let body: String = text[start..]
        .lines()
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .flat_map(|line| line.trim().chars())
        .collect();
    STANDARD.decode(body).ok()
}

/// The DER element at the start of `bytes`: (header length, content length).
fn der_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = *bytes.get(1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let count = usize::from(first & 0x7f);
    let mut length = 0usize;
    for &b in bytes.get(2..2 + count)? {
        length = length.checked_mul(256)? + usize::from(b);
    }
    Some((2 + count, length))
}

/// A CRL's `tbsCertList` (what its signature covers), with its header.
fn tbs_of(crl: &[u8]) -> Option<&[u8]> {
    let (outer, _) = der_header(crl)?;
    let inner = &crl[outer..];
    let (header, length) = der_header(inner)?;
    inner.get(..header + length)
}

/// `notation_crl`: the input is one CRL file (DER or PEM), supplied for the fixtures' chain
/// of the revoked leaf.
pub fn run_crl(data: &[u8]) {
    let chain = revoked_chain();
    let now = UnixTime(1_798_761_600); // 2027-01-01, within the fixture CRLs' validity
    let Ok(crls) = Crls::parse(&[data.to_vec()]) else {
        return;
    };
    let signed_at = data
        .first()
        .map(|&b| UnixTime(1_798_000_000 + u64::from(b)));
    let result = revocation::check(chain, &crls, now, None);
    // Without a CRL whose signature verifies there is no answer but "unknown": only the
    // fixture CRLs of the leaf's issuer decide.
    let decoded = pem_body(data);
    let carries = |crl: &[u8]| {
        let tbs = tbs_of(crl).expect("a fixture CRL");
        find(data, tbs).is_some() || decoded.as_deref().is_some_and(|d| find(d, tbs).is_some())
    };
    match &result {
        Ok(()) => assert!(carries(CRL_EMPTY) || carries(CRL_REVOKED), "{result:?}"),
        Err(RevocationProblem::Revoked { index, .. }) => {
            assert_eq!(*index, 0, "{result:?}");
            assert!(carries(CRL_REVOKED), "revoked by a CRL nobody signed");
        }
        Err(RevocationProblem::Unknown { .. }) => {}
        Err(other) => panic!("the fixture chain: {other:?}"),
    }
    // A revocation a good CRL lists is never undone by another CRL beside it, whatever the
    // signing time.
    let both = Crls::parse(&[data.to_vec(), CRL_REVOKED.to_vec()]).expect("two CRLs");
    for at in [None, signed_at] {
        let revoked = revocation::check(chain, &both, now, at);
        assert!(
            matches!(revoked, Err(RevocationProblem::Revoked { index: 0, .. })),
            "{revoked:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_but_the_tampered_ones_opens() {
        let known = known();
        let closed: Vec<&str> = (0..ENVELOPES.len())
            .filter(|i| !known.opening.contains(i))
            .map(|i| ENVELOPES[i].0)
            .collect();
        assert_eq!(closed, ["cose-tampered.cose", "jws-tampered.jws"]);
        assert_eq!(known.jws.len() + known.cose.len(), ENVELOPES.len() - 2);
    }

    #[test]
    fn the_seeds_run() {
        for (_, bytes) in ENVELOPES {
            let mut data = vec![u8::from(is_cose(bytes))];
            data.extend_from_slice(bytes);
            run_envelope(&data);
            for mode in [6, 7] {
                data[0] = u8::from(is_cose(bytes)) | (mode << 1);
                run_envelope(&data);
            }
            data[0] ^= 1; // the other media type
            run_envelope(&data);
        }
        for crl in [CRL_REVOKED, CRL_EMPTY, CRL_ROOT] {
            run_crl(crl);
        }
        run_policy(include_bytes!(
            "../../core/tests/fixtures/notation/trust-policy.json"
        ));
        run_policy(include_bytes!(
            "../../core/tests/fixtures/notation/spec/trust-policy.json"
        ));
    }

    #[test]
    fn the_fixture_crls_decide() {
        let chain = revoked_chain();
        let now = UnixTime(1_798_761_600);
        let revoked = Crls::parse(&[CRL_REVOKED.to_vec()]).expect("CRL");
        assert!(matches!(
            revocation::check(chain, &revoked, now, None),
            Err(RevocationProblem::Revoked { index: 0, .. })
        ));
        let empty = Crls::parse(&[CRL_EMPTY.to_vec()]).expect("CRL");
        assert_eq!(revocation::check(chain, &empty, now, None), Ok(()));
    }

    #[test]
    fn h4_invalid_utf8_in_an_ignored_header_member() {
        let input =
            include_bytes!("../regressions/notation_envelope-invalid-utf8-in-ignored-header");
        let opened = Envelope::open(MEDIA_TYPE_JWS, &input[1..]);
        assert!(opened.is_ok(), "{opened:?}");
        run_envelope(input);
    }

    #[test]
    fn distinguished_names_agree_with_the_model() {
        for text in [
            r"C=US, S=WA,  O=acme\, inc. , CN=\ builder\20",
            "C=US, ST=WA, O=acme-rockets.io",
            "C=US;ST=WA;O=a\\2Cb;OU=x",
            "C=US, ST=WA, O=acme+OU=x",
            "C=US, ST=WA, O=#0403",
            "C=US, ST=WA, O=acme\\",
            "c=US, st=WA, o=\u{e9}t\u{e9}",
        ] {
            check_dn(text);
        }
    }
}

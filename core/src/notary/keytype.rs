//! TUF keys as notary encodes them, and their IDs.
//!
//! | `keytype`    | `keyval.public`                         |
//! |--------------|-----------------------------------------|
//! | `ecdsa`      | DER SubjectPublicKeyInfo (P-256)        |
//! | `rsa`        | DER SubjectPublicKeyInfo                |
//! | `ecdsa-x509` | PEM certificate with a P-256 key        |
//! | `rsa-x509`   | PEM certificate with an RSA key         |
//! | `ed25519`    | the raw 32-byte key                     |

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::canonical_json::write_string;
use crate::crypto::keys::{Verifier, bounded, ed25519_verifier, verifier_from_der};
use crate::crypto::x509::CertInfo;
use crate::crypto::{KeyProblem, ParsedKey, hex, pem, pem_key};

/// The key types notary writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Ecdsa,
    EcdsaX509,
    Rsa,
    RsaX509,
    Ed25519,
}

impl KeyType {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ecdsa" => Self::Ecdsa,
            "ecdsa-x509" => Self::EcdsaX509,
            "rsa" => Self::Rsa,
            "rsa-x509" => Self::RsaX509,
            "ed25519" => Self::Ed25519,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ecdsa => "ecdsa",
            Self::EcdsaX509 => "ecdsa-x509",
            Self::Rsa => "rsa",
            Self::RsaX509 => "rsa-x509",
            Self::Ed25519 => "ed25519",
        }
    }
}

/// The ID notary gives a key: the hex SHA-256 of the canonical JSON of
/// `{"keytype":…,"keyval":{"private":null,"public":base64(public)}}`.
pub fn key_id(keytype: &str, public: &[u8]) -> String {
    let mut json = Vec::with_capacity(64 + public.len() * 4 / 3);
    json.extend_from_slice(b"{\"keytype\":");
    write_string(&mut json, keytype);
    json.extend_from_slice(b",\"keyval\":{\"private\":null,\"public\":");
    write_string(&mut json, &STANDARD.encode(public));
    json.extend_from_slice(b"}}");
    hex(&Sha256::digest(&json))
}

/// The key ID notary (and IBM Portieris) computes for a pinned signer key in PEM: a
/// `CERTIFICATE` becomes an `ecdsa-x509`/`rsa-x509` key over Go's re-encoding of the
/// certificate; a `PUBLIC KEY` becomes an `ecdsa`/`rsa` (or `ed25519`) key over its DER.
pub fn pem_key_id(pem_text: &str) -> Result<String, KeyProblem> {
    let (keytype, public, _) = pinned_key(pem_text)?;
    Ok(key_id(keytype.as_str(), &public))
}

/// A pinned key as notary's `ParsePEMPublicKey` reads it: type, `keyval.public`, parsed key.
pub(crate) fn pinned_key(pem_text: &str) -> Result<(KeyType, Vec<u8>, ParsedKey), KeyProblem> {
    let (der, key) = pem_key(pem_text)?;
    let (keytype, public) = match (&key.verifier, &key.cert) {
        (Verifier::Ecdsa(_), Some(_)) => (KeyType::EcdsaX509, certificate(&der)),
        (Verifier::Rsa(_), Some(_)) => (KeyType::RsaX509, certificate(&der)),
        // `pem_key` refuses Ed25519 certificates: notary has no type for them.
        (Verifier::Ed25519(_), Some(_)) => return Err(KeyProblem::Algorithm),
        // Notary's ECDSA is P-256 only.
        (Verifier::EcdsaP384(_) | Verifier::EcdsaP521(_), _) => return Err(KeyProblem::Algorithm),
        (Verifier::Ecdsa(_), None) => (KeyType::Ecdsa, der),
        (Verifier::Rsa(_), None) => (KeyType::Rsa, der),
        (Verifier::Ed25519(key), None) => (KeyType::Ed25519, key.as_bytes().to_vec()),
    };
    Ok((keytype, public, key))
}

/// A certificate's `keyval.public`: Go's re-encoding of its DER.
fn certificate(der: &[u8]) -> Vec<u8> {
    pem::encode("CERTIFICATE", der).into_bytes()
}

/// Parses `keyval.public` for a metadata key of type `keytype`.
pub(crate) fn parse_key(keytype: &str, public: &[u8]) -> Result<ParsedKey, KeyProblem> {
    bounded(public)?;
    let kind =
        KeyType::parse(keytype).ok_or_else(|| KeyProblem::UnsupportedType(keytype.into()))?;
    match kind {
        KeyType::Ecdsa | KeyType::Rsa => {
            let verifier = verifier_from_der(public)?;
            let matches = matches!(
                (kind, &verifier),
                (KeyType::Ecdsa, Verifier::Ecdsa(_)) | (KeyType::Rsa, Verifier::Rsa(_))
            );
            if !matches {
                return Err(KeyProblem::Algorithm);
            }
            Ok(ParsedKey {
                verifier,
                cert: None,
            })
        }
        KeyType::EcdsaX509 | KeyType::RsaX509 => {
            let text = core::str::from_utf8(public).map_err(|_| KeyProblem::Pem)?;
            let block = pem::decode_first(text).ok_or(KeyProblem::Pem)?;
            if block.label != "CERTIFICATE" {
                return Err(KeyProblem::Pem);
            }
            let cert = CertInfo::parse(&block.der)?;
            let matches = matches!(
                (kind, &cert.verifier),
                (KeyType::EcdsaX509, Verifier::Ecdsa(_)) | (KeyType::RsaX509, Verifier::Rsa(_))
            );
            if !matches {
                return Err(KeyProblem::Algorithm);
            }
            Ok(ParsedKey {
                verifier: cert.verifier.clone(),
                cert: Some(cert),
            })
        }
        KeyType::Ed25519 => Ok(ParsedKey {
            verifier: ed25519_verifier(public)?,
            cert: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_KEY_BYTES;
    use serde_json::Value;

    /// Key IDs computed by notary's Go code; see `testdata/regen.sh`.
    const GO_VECTORS: &str = include_str!("testdata/go_vectors.json");

    fn go_keys() -> Vec<Value> {
        let vectors: Value = serde_json::from_str(GO_VECTORS).expect("vectors");
        vectors["keys"].as_array().expect("keys").clone()
    }

    #[test]
    fn key_ids_match_notary() {
        let keys = go_keys();
        assert_eq!(keys.len(), 5);
        for key in keys {
            let keytype = key["keytype"].as_str().expect("keytype");
            let public = STANDARD
                .decode(key["public_base64"].as_str().expect("public"))
                .expect("base64");
            assert_eq!(key_id(keytype, &public), key["id"], "{}", key["name"]);
            assert!(parse_key(keytype, &public).is_ok(), "{}", key["name"]);
        }
    }

    #[test]
    fn pinned_pem_key_ids_match_notary_for_public_keys_and_certificates() {
        let mut pinned = 0;
        for key in go_keys() {
            let Some(pem_text) = key["pin_pem"].as_str() else {
                continue;
            };
            assert_eq!(
                pem_key_id(pem_text).as_deref(),
                Ok(key["pin_id"].as_str().expect("pin id")),
                "{}",
                key["name"]
            );
            pinned += 1;
        }
        // ecdsa SPKI (with Docker's `role:` header), rsa SPKI, ecdsa and rsa certificates.
        assert_eq!(pinned, 4);
    }

    #[test]
    fn keys_of_the_wrong_algorithm_for_their_type_are_refused() {
        let keys = go_keys();
        let public = |name: &str| {
            let key = keys
                .iter()
                .find(|k| k["name"].as_str().is_some_and(|n| n.starts_with(name)))
                .expect("key");
            STANDARD
                .decode(key["public_base64"].as_str().expect("public"))
                .expect("base64")
        };
        assert!(matches!(
            parse_key("ecdsa", &public("rsa signer")),
            Err(KeyProblem::Algorithm)
        ));
        assert!(matches!(
            parse_key("rsa-x509", &public("ecdsa-x509")),
            Err(KeyProblem::Algorithm)
        ));
        assert!(matches!(
            parse_key("ed25519", &[0; 31]),
            Err(KeyProblem::Encoding)
        ));
        assert!(matches!(parse_key("rsa", b"junk"), Err(KeyProblem::Der)));
        assert!(matches!(
            parse_key("dsa", b""),
            Err(KeyProblem::UnsupportedType(t)) if t == "dsa"
        ));
    }

    #[test]
    fn keys_over_the_size_limit_are_refused_before_parsing() {
        use alloc::string::ToString as _;
        // A valid-looking PEM padded with junk before its block, one byte over the limit.
        let block = "-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n";
        let junk = "x".repeat(MAX_KEY_BYTES - block.len());
        let pem_text = [junk.as_str(), "\n", block].concat();
        let too_large = KeyProblem::TooLarge {
            bytes: MAX_KEY_BYTES + 1,
            limit: MAX_KEY_BYTES,
        };
        assert_eq!(pem_key_id(&pem_text).expect_err("too large"), too_large);
        assert_eq!(too_large.to_string(), "key of 65537 bytes, more than 65536");
        for keytype in ["ecdsa", "rsa", "ecdsa-x509", "rsa-x509", "ed25519"] {
            let got = parse_key(keytype, pem_text.as_bytes()).map(|_| ());
            assert_eq!(got, Err(too_large.clone()), "{keytype}");
        }
        // At the limit the same text is parsed (and refused for what it is, not its size).
        let at_limit = &pem_text[1..];
        assert_eq!(pem_key_id(at_limit).expect_err("bad DER"), KeyProblem::Der);
        let der = alloc::vec![0x30; MAX_KEY_BYTES + 1];
        assert!(matches!(
            CertInfo::parse(&der).map(|_| ()),
            Err(KeyProblem::TooLarge { .. })
        ));
    }
}

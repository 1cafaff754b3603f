//! TUF keys as notary encodes them, their IDs, and the verifiers behind them.
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
use der::Decode as _;
use der::asn1::ObjectIdentifier;
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};
use spki::SubjectPublicKeyInfoOwned;

use super::canonical_json::write_string;
use super::error::KeyProblem;
use super::pem;
use super::x509::CertInfo;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Most bytes of one key as it arrives (`keyval.public` in metadata, a pinned signer's PEM
/// from a Secret), checked before any parsing. Notary's largest, an 8192-bit RSA key in a PEM
/// certificate, is about 3 KiB.
pub const MAX_KEY_BYTES: usize = 64 * 1024;

/// Notary's minimum; the maximum bounds the cost of a verification.
const RSA_BITS: core::ops::RangeInclusive<usize> = 2048..=8192;

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

/// A public key that can check signatures.
#[derive(Debug, Clone)]
pub(crate) enum Verifier {
    Ecdsa(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A usable key: its verifier and, for `*-x509` keys, its certificate.
#[derive(Debug, Clone)]
pub(crate) struct ParsedKey {
    pub verifier: Verifier,
    pub cert: Option<CertInfo>,
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
    bounded(pem_text.as_bytes())?;
    let block = pem::decode_first(pem_text).ok_or(KeyProblem::Pem)?;
    match block.label.as_str() {
        "CERTIFICATE" => {
            let cert = CertInfo::parse(&block.der)?;
            let keytype = match cert.verifier {
                Verifier::Ecdsa(_) => KeyType::EcdsaX509,
                Verifier::Rsa(_) => KeyType::RsaX509,
                Verifier::Ed25519(_) => return Err(KeyProblem::Algorithm),
            };
            let public = pem::encode("CERTIFICATE", &block.der).into_bytes();
            let key = ParsedKey {
                verifier: cert.verifier.clone(),
                cert: Some(cert),
            };
            Ok((keytype, public, key))
        }
        "PUBLIC KEY" => {
            let spki =
                SubjectPublicKeyInfoOwned::from_der(&block.der).map_err(|_| KeyProblem::Der)?;
            let verifier = verifier_from_spki(&spki)?;
            let (keytype, public) = match &verifier {
                Verifier::Ecdsa(_) => (KeyType::Ecdsa, block.der),
                Verifier::Rsa(_) => (KeyType::Rsa, block.der),
                Verifier::Ed25519(key) => (KeyType::Ed25519, key.as_bytes().to_vec()),
            };
            let key = ParsedKey {
                verifier,
                cert: None,
            };
            Ok((keytype, public, key))
        }
        _ => Err(KeyProblem::Pem),
    }
}

/// Parses `keyval.public` for a metadata key of type `keytype`.
pub(crate) fn parse_key(keytype: &str, public: &[u8]) -> Result<ParsedKey, KeyProblem> {
    bounded(public)?;
    let kind =
        KeyType::parse(keytype).ok_or_else(|| KeyProblem::UnsupportedType(keytype.into()))?;
    match kind {
        KeyType::Ecdsa | KeyType::Rsa => {
            let spki = SubjectPublicKeyInfoOwned::from_der(public).map_err(|_| KeyProblem::Der)?;
            let verifier = verifier_from_spki(&spki)?;
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
        KeyType::Ed25519 => {
            let bytes: &[u8; 32] = public.try_into().map_err(|_| KeyProblem::Encoding)?;
            let key =
                ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyProblem::Encoding)?;
            Ok(ParsedKey {
                verifier: Verifier::Ed25519(key),
                cert: None,
            })
        }
    }
}

/// Refuses a key over [`MAX_KEY_BYTES`] before it is decoded.
pub(crate) fn bounded(bytes: &[u8]) -> Result<(), KeyProblem> {
    if bytes.len() > MAX_KEY_BYTES {
        return Err(KeyProblem::TooLarge {
            bytes: bytes.len(),
            limit: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

/// A verifier from a SubjectPublicKeyInfo: P-256 ECDSA, RSA (2048..=8192 bits) or Ed25519.
pub(crate) fn verifier_from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Verifier, KeyProblem> {
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyProblem::Encoding)?;
    let algorithm = &spki.algorithm;
    if algorithm.oid == EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = algorithm
            .parameters
            .as_ref()
            .ok_or(KeyProblem::Algorithm)?
            .decode_as()
            .map_err(|_| KeyProblem::Algorithm)?;
        if curve != SECP256R1 {
            return Err(KeyProblem::Algorithm);
        }
        let key =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(bits).map_err(|_| KeyProblem::Encoding)?;
        Ok(Verifier::Ecdsa(key))
    } else if algorithm.oid == RSA_ENCRYPTION {
        rsa_verifier(bits)
    } else if algorithm.oid == ED25519 {
        let bytes: &[u8; 32] = bits.try_into().map_err(|_| KeyProblem::Encoding)?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyProblem::Encoding)?;
        Ok(Verifier::Ed25519(key))
    } else {
        Err(KeyProblem::Algorithm)
    }
}

/// PKCS#1 `RSAPublicKey` → key. Parsed by hand from its two integers because
/// `RsaPublicKey::try_from(spki)` caps the modulus at 4096 bits.
fn rsa_verifier(pkcs1: &[u8]) -> Result<Verifier, KeyProblem> {
    let key = rsa::pkcs1::RsaPublicKey::from_der(pkcs1).map_err(|_| KeyProblem::Der)?;
    let n = rsa::BigUint::from_bytes_be(key.modulus.as_bytes());
    let e = rsa::BigUint::from_bytes_be(key.public_exponent.as_bytes());
    let key = rsa::RsaPublicKey::new_with_max_size(n, e, *RSA_BITS.end())
        .map_err(|_| KeyProblem::RsaSize)?;
    if !RSA_BITS.contains(&key.n().bits()) {
        return Err(KeyProblem::RsaSize);
    }
    Ok(Verifier::Rsa(key))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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

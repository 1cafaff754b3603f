//! Public keys that check signatures: P-256 and P-384 ECDSA, RSA (2048..=8192 bits) and
//! Ed25519, read from a DER SubjectPublicKeyInfo, within a size bound checked before any
//! parsing; P-521 ECDSA only where asked for (Notation's ES512). Which of them a format
//! accepts is the format's decision (Notary: no P-384).

use alloc::vec::Vec;
use core::fmt;

use der::Decode as _;
use der::asn1::ObjectIdentifier;
use rsa::traits::PublicKeyParts as _;
use rsa::{Pkcs1v15Sign, Pss};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::SubjectPublicKeyInfoOwned;

use super::KeyProblem;
use crate::limits::{MAX_KEY_BYTES, RSA_BITS};

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A public key that can check signatures.
#[derive(Debug, Clone)]
pub(crate) enum Verifier {
    Ecdsa(p256::ecdsa::VerifyingKey),
    EcdsaP384(p384::ecdsa::VerifyingKey),
    /// Only from [`verifier_from_spki_with_p521`]: no format but Notation signs with P-521.
    EcdsaP521(P521Key),
    Rsa(rsa::RsaPublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A P-521 key; p521's own type has no `Debug`, so this one names its curve only.
#[derive(Clone)]
pub(crate) struct P521Key(p521::ecdsa::VerifyingKey);

impl fmt::Debug for P521Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P521Key")
    }
}

/// The digest a signature was made over (X.509 and Sigstore name it beside the signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(message).to_vec(),
            Self::Sha384 => Sha384::digest(message).to_vec(),
            Self::Sha512 => Sha512::digest(message).to_vec(),
        }
    }

    /// The digest's length in bytes.
    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn pkcs1v15(self) -> Pkcs1v15Sign {
        match self {
            Self::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
            Self::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
            Self::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
        }
    }

    /// RSASSA-PSS with MGF1 over the same digest and a salt as long as the digest.
    fn pss(self) -> Pss {
        match self {
            Self::Sha256 => Pss::new::<Sha256>(),
            Self::Sha384 => Pss::new::<Sha384>(),
            Self::Sha512 => Pss::new::<Sha512>(),
        }
    }
}

impl Verifier {
    /// Checks `signature` over `message` as X.509 and Sigstore sign: ECDSA with an ASN.1 DER
    /// signature over `hash(message)`, RSA PKCS#1 v1.5 over `hash(message)`, pure Ed25519 over
    /// the message itself (`hash` unused: Ed25519 hashes internally).
    pub(crate) fn verify(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        #[cfg(feature = "ring")]
        if let Some(valid) = self.verify_with_ring(hash, message, signature) {
            return valid;
        }
        self.verify_in_rust(hash, message, signature)
    }

    /// [`Verifier::verify`] with RustCrypto only.
    fn verify_in_rust(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        match self {
            Self::Ecdsa(key) => p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&hash.digest(message), &s).is_ok()),
            Self::EcdsaP384(key) => p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&hash.digest(message), &s).is_ok()),
            Self::EcdsaP521(key) => p521::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.0.verify_prehash(&hash.digest(message), &s).is_ok()),
            Self::Rsa(key) => key
                .verify(hash.pkcs1v15(), &hash.digest(message), signature)
                .is_ok(),
            Self::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify_strict(message, &s).is_ok()),
        }
    }

    /// ECDSA through ring, for the curve and digest pairs it has: the same check, several times
    /// faster (P-384, the Fulcio and timestamp CAs' curve, takes milliseconds in pure Rust).
    /// `None` where ring has no such pair.
    #[cfg(feature = "ring")]
    fn verify_with_ring(&self, hash: Hash, message: &[u8], signature: &[u8]) -> Option<bool> {
        use ring::signature::{
            ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA384_ASN1, ECDSA_P384_SHA256_ASN1,
            ECDSA_P384_SHA384_ASN1, UnparsedPublicKey,
        };
        let (algorithm, point) = match (self, hash) {
            (Self::Ecdsa(key), Hash::Sha256) => (
                &ECDSA_P256_SHA256_ASN1,
                key.to_encoded_point(false).as_bytes().to_vec(),
            ),
            (Self::Ecdsa(key), Hash::Sha384) => (
                &ECDSA_P256_SHA384_ASN1,
                key.to_encoded_point(false).as_bytes().to_vec(),
            ),
            (Self::EcdsaP384(key), Hash::Sha256) => (
                &ECDSA_P384_SHA256_ASN1,
                key.to_encoded_point(false).as_bytes().to_vec(),
            ),
            (Self::EcdsaP384(key), Hash::Sha384) => (
                &ECDSA_P384_SHA384_ASN1,
                key.to_encoded_point(false).as_bytes().to_vec(),
            ),
            _ => return None,
        };
        Some(
            UnparsedPublicKey::new(algorithm, point)
                .verify(message, signature)
                .is_ok(),
        )
    }

    /// Checks `signature` over a message of which only `digest = hash(message)` is known, as
    /// Sigstore checks a bundle's message signature: ECDSA and RSA PKCS#1 v1.5 sign the
    /// digest anyway. Ed25519 signs the message itself, so no digest can stand for it: false.
    pub(crate) fn verify_prehashed(&self, hash: Hash, digest: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        if digest.len() != hash.len() {
            return false;
        }
        match self {
            Self::Ecdsa(key) => p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(digest, &s).is_ok()),
            Self::EcdsaP384(key) => p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(digest, &s).is_ok()),
            Self::EcdsaP521(key) => p521::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.0.verify_prehash(digest, &s).is_ok()),
            Self::Rsa(key) => key.verify(hash.pkcs1v15(), digest, signature).is_ok(),
            Self::Ed25519(_) => false,
        }
    }
}

impl Verifier {
    /// Checks an ECDSA signature written as JOSE and COSE write it, the fixed-size `r || s`
    /// (not DER), over `hash(message)`. Any other key: false.
    pub(crate) fn verify_ecdsa_raw(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        match self {
            Self::Ecdsa(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify_prehash(&hash.digest(message), &s).is_ok()),
            Self::EcdsaP384(key) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify_prehash(&hash.digest(message), &s).is_ok()),
            Self::EcdsaP521(key) => p521::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.0.verify_prehash(&hash.digest(message), &s).is_ok()),
            Self::Rsa(_) | Self::Ed25519(_) => false,
        }
    }

    /// Checks an RSASSA-PSS signature over `hash(message)`, MGF1 with the same digest and a
    /// salt as long as the digest (what JWS `PS256` and COSE `-37`… sign with). Any other
    /// key: false.
    pub(crate) fn verify_pss(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Rsa(key) => key
                .verify(hash.pss(), &hash.digest(message), signature)
                .is_ok(),
            Self::Ecdsa(_) | Self::EcdsaP384(_) | Self::EcdsaP521(_) | Self::Ed25519(_) => false,
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

/// A verifier from a DER SubjectPublicKeyInfo.
pub(crate) fn verifier_from_der(der: &[u8]) -> Result<Verifier, KeyProblem> {
    let spki = SubjectPublicKeyInfoOwned::from_der(der).map_err(|_| KeyProblem::Der)?;
    verifier_from_spki(&spki)
}

/// A verifier from a SubjectPublicKeyInfo: P-256 or P-384 ECDSA, RSA (2048..=8192 bits) or Ed25519.
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
        if curve == SECP256R1 {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map_err(|_| KeyProblem::Encoding)?;
            Ok(Verifier::Ecdsa(key))
        } else if curve == SECP384R1 {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map_err(|_| KeyProblem::Encoding)?;
            Ok(Verifier::EcdsaP384(key))
        } else {
            Err(KeyProblem::Algorithm)
        }
    } else if algorithm.oid == RSA_ENCRYPTION {
        rsa_verifier(bits)
    } else if algorithm.oid == ED25519 {
        ed25519_verifier(bits)
    } else {
        Err(KeyProblem::Algorithm)
    }
}

/// [`verifier_from_spki`], and P-521 ECDSA too (Notation's ES512). The other formats keep
/// refusing P-521: none of them signs with it.
pub(crate) fn verifier_from_spki_with_p521(
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<Verifier, KeyProblem> {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok());
    if spki.algorithm.oid != EC_PUBLIC_KEY || curve != Some(SECP521R1) {
        return verifier_from_spki(spki);
    }
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyProblem::Encoding)?;
    let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(bits).map_err(|_| KeyProblem::Encoding)?;
    Ok(Verifier::EcdsaP521(P521Key(key)))
}

/// PKCS#1 `RSAPublicKey` → key. Parsed by hand from its two integers because
/// `RsaPublicKey::try_from(spki)` caps the modulus at 4096 bits.
pub(crate) fn rsa_verifier(pkcs1: &[u8]) -> Result<Verifier, KeyProblem> {
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

/// A raw 32-byte Ed25519 key.
pub(crate) fn ed25519_verifier(raw: &[u8]) -> Result<Verifier, KeyProblem> {
    let bytes: &[u8; 32] = raw.try_into().map_err(|_| KeyProblem::Encoding)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyProblem::Encoding)?;
    Ok(Verifier::Ed25519(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;

    #[test]
    fn a_prehashed_ecdsa_signature_verifies_over_its_digest_only() {
        let digest = Sha256::digest(b"artifact");
        let p256_key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("a scalar");
        let p256_sig: p256::ecdsa::Signature = p256_key.sign_prehash(&digest).expect("signs");
        let p384_key = p384::ecdsa::SigningKey::from_slice(&[7; 48]).expect("a scalar");
        let p384_sig: p384::ecdsa::Signature = p384_key.sign_prehash(&digest).expect("signs");
        let cases = [
            (
                Verifier::Ecdsa(*p256_key.verifying_key()),
                p256_sig.to_der().as_bytes().to_vec(),
            ),
            (
                Verifier::EcdsaP384(*p384_key.verifying_key()),
                p384_sig.to_der().as_bytes().to_vec(),
            ),
        ];
        for (key, signature) in cases {
            assert!(key.verify_prehashed(Hash::Sha256, &digest, &signature));
            assert!(key.verify(Hash::Sha256, b"artifact", &signature));
            let other = Sha256::digest(b"other");
            assert!(!key.verify_prehashed(Hash::Sha256, &other, &signature));
            assert!(
                !key.verify_prehashed(Hash::Sha384, &digest, &signature),
                "length"
            );
        }
    }

    /// ring and RustCrypto give the same verdict for every curve and digest pair ring takes:
    /// the right signature, another message, a flipped byte, and a signature that is not DER.
    #[cfg(feature = "ring")]
    #[test]
    fn ring_and_rustcrypto_agree_on_ecdsa() {
        let p256_key = p256::ecdsa::SigningKey::from_slice(&[9; 32]).expect("a scalar");
        let p384_key = p384::ecdsa::SigningKey::from_slice(&[9; 48]).expect("a scalar");
        let mut checked = 0;
        for hash in [Hash::Sha256, Hash::Sha384] {
            let digest = hash.digest(b"message");
            let signed: [(Verifier, Vec<u8>); 2] = [
                (
                    Verifier::Ecdsa(*p256_key.verifying_key()),
                    p256_key
                        .sign_prehash(&digest)
                        .map(|s: p256::ecdsa::Signature| s.to_der().as_bytes().to_vec())
                        .expect("signs"),
                ),
                (
                    Verifier::EcdsaP384(*p384_key.verifying_key()),
                    p384_key
                        .sign_prehash(&digest)
                        .map(|s: p384::ecdsa::Signature| s.to_der().as_bytes().to_vec())
                        .expect("signs"),
                ),
            ];
            for (key, signature) in signed {
                let mut flipped = signature.clone();
                let last = flipped.len() - 1;
                flipped[last] ^= 1;
                let cases: [(&[u8], &[u8], bool); 4] = [
                    (b"message", &signature, true),
                    (b"other", &signature, false),
                    (b"message", &flipped, false),
                    (b"message", &signature[2..], false),
                ];
                for (message, signature, valid) in cases {
                    let by_ring = key.verify_with_ring(hash, message, signature);
                    assert_eq!(by_ring, Some(valid));
                    assert_eq!(key.verify_in_rust(hash, message, signature), valid);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 16);
    }

    /// JOSE and COSE write ECDSA as `r || s` and sign RSA with PSS: the DER and PKCS#1 v1.5
    /// forms of the same signatures are not taken for them.
    #[test]
    fn raw_ecdsa_and_pss_are_checked_in_their_own_encodings() {
        use p256::ecdsa::signature::Signer as _;
        let p256_key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("a scalar");
        let signature: p256::ecdsa::Signature = p256_key.sign(b"message");
        let ecdsa = Verifier::Ecdsa(*p256_key.verifying_key());
        let raw = signature.to_bytes();
        assert!(ecdsa.verify_ecdsa_raw(Hash::Sha256, b"message", &raw));
        assert!(!ecdsa.verify_ecdsa_raw(Hash::Sha256, b"other", &raw));
        let der = signature.to_der();
        assert!(!ecdsa.verify_ecdsa_raw(Hash::Sha256, b"message", der.as_bytes()));
        assert!(!ecdsa.verify_pss(Hash::Sha256, b"message", &raw));

        use rsa::pkcs8::DecodePrivateKey as _;
        let pem = include_str!("../notary/testdata/rsa2048.pem");
        let rsa_key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("test RSA key");
        let rsa = Verifier::Rsa(rsa_key.to_public_key());
        let digest = Sha384::digest(b"message");
        let pss = rsa_key
            .sign_with_rng(&mut rand_core::OsRng, Hash::Sha384.pss(), &digest)
            .expect("signs");
        assert!(rsa.verify_pss(Hash::Sha384, b"message", &pss));
        assert!(!rsa.verify_pss(Hash::Sha256, b"message", &pss));
        let pkcs1 = rsa_key
            .sign(Hash::Sha384.pkcs1v15(), &digest)
            .expect("signs");
        assert!(rsa.verify(Hash::Sha384, b"message", &pkcs1));
        assert!(!rsa.verify_pss(Hash::Sha384, b"message", &pkcs1));
        assert!(!rsa.verify_ecdsa_raw(Hash::Sha384, b"message", &pss));
    }

    #[test]
    fn no_digest_stands_for_an_ed25519_message() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let digest = Sha512::digest(b"artifact");
        let signature = {
            use ed25519_dalek::Signer as _;
            key.sign(&digest).to_bytes()
        };
        let verifier = Verifier::Ed25519(key.verifying_key());
        assert!(!verifier.verify_prehashed(Hash::Sha512, &digest, &signature));
    }
}

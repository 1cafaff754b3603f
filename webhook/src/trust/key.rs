//! The key of a verified result: a SHA-256 fingerprint of everything the result depends on.
//!
//! The key used to own copies of the server, repository, target, every pinned signer's PEM
//! key and every credential, cloned and hashed on every warm admission. A fingerprint is
//! computed from borrowed parts, with no allocation, and is 32 bytes to hash and compare.
//! It is as exact as the owned key: each part is length-prefixed (so no two different
//! sequences of parts feed the same bytes), and two different inputs share a key only through
//! a SHA-256 collision. Credentials stay part of it: a namespace whose pull Secrets cannot
//! read a private repository must not be admitted on another namespace's behalf.

use portieris_core::notary::{Signer, TargetRef};
use sha2::{Digest as _, Sha256};

use crate::fetch::Credential;

/// Separates these fingerprints from any other SHA-256 use, and from a later layout.
const DOMAIN: &[u8] = b"portieris trust result key v1\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key([u8; 32]);

/// The parts of a verification that decide its result.
pub(super) struct Parts<'a> {
    pub server: &'a str,
    pub gun: &'a str,
    pub target: &'a TargetRef,
    pub signers: &'a [Signer],
    pub credentials: &'a [Credential],
}

impl Parts<'_> {
    pub fn key(&self) -> Key {
        let mut hash = Sha256::new();
        hash.update(DOMAIN);
        let mut field = |bytes: &[u8]| {
            // usize → u64 never truncates on the platforms Rust supports (≤ 64-bit).
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        field(self.server.as_bytes());
        field(self.gun.as_bytes());
        match self.target {
            TargetRef::Digest(digest) => {
                field(b"digest");
                field(digest.to_string().as_bytes());
            }
            TargetRef::Tag(tag) => {
                field(b"tag");
                field(tag.as_bytes());
            }
        }
        // Counts before the lists: signers and credentials cannot trade places.
        field(&(self.signers.len() as u64).to_le_bytes());
        for signer in self.signers {
            field(signer.name.as_bytes());
            field(signer.public_key_pem.as_bytes());
        }
        field(&(self.credentials.len() as u64).to_le_bytes());
        for credential in self.credentials {
            field(credential.username.as_bytes());
            field(credential.password.as_bytes());
        }
        Key(hash.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, pem: &str) -> Signer {
        Signer {
            name: name.into(),
            public_key_pem: pem.into(),
        }
    }

    fn credential(username: &str, password: &str) -> Credential {
        Credential {
            username: username.into(),
            password: password.into(),
        }
    }

    #[test]
    fn every_part_changes_the_key_and_equal_parts_agree() {
        let tag = TargetRef::Tag("v1".into());
        let other_tag = TargetRef::Tag("v2".into());
        let signers = [signer("alice", "PEM-A")];
        let credentials = [credential("u", "p")];
        let base = Parts {
            server: "https://notary.example",
            gun: "r.example/app",
            target: &tag,
            signers: &signers,
            credentials: &credentials,
        };
        let key = base.key();
        assert_eq!(key, Parts { ..base }.key(), "deterministic");
        let other_signers = [signer("alice", "PEM-B")];
        let swapped = [signer("alic", "ePEM-A")];
        let other_password = [credential("u", "q")];
        let shifted = [credential("up", "")];
        let variants = [
            Parts {
                server: "https://notary.example:443",
                ..base
            },
            Parts {
                gun: "r.example/app2",
                ..base
            },
            Parts {
                target: &other_tag,
                ..base
            },
            Parts {
                signers: &other_signers,
                ..base
            },
            Parts {
                signers: &swapped,
                ..base
            },
            Parts {
                signers: &[],
                ..base
            },
            Parts {
                credentials: &other_password,
                ..base
            },
            Parts {
                credentials: &shifted,
                ..base
            },
            Parts {
                credentials: &[],
                ..base
            },
        ];
        for (i, variant) in variants.iter().enumerate() {
            assert_ne!(variant.key(), key, "variant {i}");
        }
    }

    #[test]
    fn a_tag_and_a_digest_of_the_same_text_differ() {
        let digest = portieris_core::Digest::parse(
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .expect("digest");
        let as_tag = TargetRef::Tag(digest.to_string());
        let as_digest = TargetRef::Digest(digest);
        let parts = |target| Parts {
            server: "s",
            gun: "g",
            target,
            signers: &[],
            credentials: &[],
        };
        assert_ne!(parts(&as_tag).key(), parts(&as_digest).key());
    }
}

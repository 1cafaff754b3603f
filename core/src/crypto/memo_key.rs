//! The key of a remembered verdict: SHA-256 over its parts, each prefixed by its length, so no
//! two splits of the same bytes collide, after a domain that keeps each format's keys apart.

use sha2::{Digest as _, Sha256};

/// A key built part by part; cloned after the parts several keys share.
#[derive(Clone)]
pub(crate) struct MemoKey(Sha256);

impl MemoKey {
    /// A key for the verdicts of `domain` (`b"portieris sigstore verdict v1"`).
    pub(crate) fn new(domain: &[u8]) -> Self {
        Self(Sha256::new_with_prefix(domain))
    }

    pub(crate) fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }

    /// A count, as a part.
    pub(crate) fn count(&mut self, n: usize) -> &mut Self {
        self.part(&(n as u64).to_be_bytes())
    }

    pub(crate) fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }

    /// The key of `parts`, after what this key already holds.
    pub(crate) fn of(mut self, parts: &[&[u8]]) -> [u8; 32] {
        for part in parts {
            self.part(part);
        }
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_apart_every_split_of_the_same_bytes_and_every_domain() {
        let key = |parts: &[&[u8]]| MemoKey::new(b"test").of(parts);
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        assert_ne!(key(&[b"abc"]), key(&[b"abc", b""]));
        assert_eq!(key(&[b"a", b"bc"]), key(&[b"a", b"bc"]));
        assert_ne!(MemoKey::new(b"other").of(&[b"a"]), key(&[b"a"]));
    }
}

//! Bundles already verified for a signer, remembered so that the next admission of the same
//! image costs a hash instead of a verification (a keyless bundle is several ECDSA P-384 and
//! P-256 checks: milliseconds).
//!
//! Only successes are kept, and a success stays one: every time a bundle is judged at is a
//! signing time it proves (never the wall clock), and the one check against `now` (a log time
//! not in the future) only gets easier as time passes. The key covers every input of the
//! verdict: the bundle's bytes, the image digest, and the signer as the policy gave it (the key
//! PEM, or the trusted root's bytes and the identities).

use alloc::collections::BTreeSet;

use spin::Mutex;

use crate::crypto::memo_key::MemoKey;

/// Most verdicts kept; past it the set starts again (a bound, not an eviction policy: a warm
/// cluster has far fewer distinct image signatures).
const MAX_REMEMBERED: usize = 4096;

static VERIFIED: Mutex<BTreeSet<[u8; 32]>> = Mutex::new(BTreeSet::new());

/// The key of one verdict: SHA-256 over each part, each prefixed by its length.
pub(crate) fn key(parts: &[&[u8]]) -> [u8; 32] {
    new_key().of(parts)
}

/// An empty key of Sigstore's and the attestations' verdicts.
pub(crate) fn new_key() -> MemoKey {
    MemoKey::new(b"portieris sigstore verdict v1")
}

pub(crate) fn known(key: &[u8; 32]) -> bool {
    VERIFIED.lock().contains(key)
}

pub(crate) fn remember(key: [u8; 32]) {
    let mut verified = VERIFIED.lock();
    if verified.len() >= MAX_REMEMBERED {
        verified.clear();
    }
    verified.insert(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_verdict_is_known_and_the_set_stays_bounded() {
        let first = key(&[b"memo test", b"first"]);
        assert!(!known(&first));
        remember(first);
        assert!(known(&first));
        for n in 0..MAX_REMEMBERED as u64 {
            remember(key(&[b"memo test", &n.to_be_bytes()]));
        }
        assert!(VERIFIED.lock().len() <= MAX_REMEMBERED);
    }
}

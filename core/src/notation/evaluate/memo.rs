//! Notation verdicts already reached, remembered so that the next admission of the same image
//! under the same need costs a hash instead of signature checks (an RSA-3072 envelope, its
//! chain, a timestamp's CMS signature and CRL signatures: milliseconds).
//!
//! Only passes are kept, each with what it admitted ([`Verified`], logged failures included)
//! and the time window in which it stays true. The key covers every input of the verdict but
//! time: the trust policy statement that applied (every field of it), each trust store it
//! names (type, name, every certificate and CRL as given), the descriptor compared with the
//! signed one (digest, media type, size), and the envelope (media type and bytes).
//!
//! Time enters a verdict only by comparing `now` with instants the inputs fix: the signature's
//! expiry, the signing chain's validity (notBefore, notAfter), and each CRL's thisUpdate and
//! nextUpdate (a CRL not yet issued or stale is set aside). Over `[from, until)`, where `from`
//! is when the verdict was reached and `until` the first change after it ([`until`]), every
//! comparison comes out as it did at `from`, so the verdict holds; outside it (a clock set back
//! included) the signature is judged again. The timestamp authority's chain is counted too, although its validity is
//! judged at the timestamp's time, not now: a shorter window, never a wrong one.
//!
//! What a remembered verdict gives back is what was found then: a logged failure that names a
//! time (a chain not valid at `now`) names the time of the first verdict. Among several
//! signatures, any one remembered admits: a fresh check, which admits on the first that passes
//! in order, would admit too (that one still passes), though it might name an earlier signer.

use alloc::collections::BTreeMap;

use spin::Mutex;

use super::Verified;
use crate::crypto::memo_key::MemoKey;
use crate::time::UnixTime;

/// Most verdicts kept; past it the map starts again (a bound, not an eviction policy: a warm
/// cluster has far fewer distinct image signatures).
const MAX_REMEMBERED: usize = 4096;

struct Remembered {
    from: UnixTime,
    until: UnixTime,
    verified: Verified,
}

static VERDICTS: Mutex<BTreeMap<[u8; 32], Remembered>> = Mutex::new(BTreeMap::new());

/// An empty key of Notation's verdicts.
pub(crate) fn new_key() -> MemoKey {
    MemoKey::new(b"portieris notation verdict v1")
}

/// The verdict remembered under `key`, if `now` is within its window.
pub(crate) fn recall(key: &[u8; 32], now: UnixTime) -> Option<Verified> {
    let verdicts = VERDICTS.lock();
    let remembered = verdicts.get(key)?;
    (remembered.from <= now && now < remembered.until).then(|| remembered.verified.clone())
}

/// Whether a verdict is remembered under `key` for `now`, without cloning it.
pub(crate) fn known(key: &[u8; 32], now: UnixTime) -> bool {
    let verdicts = VERDICTS.lock();
    verdicts
        .get(key)
        .is_some_and(|r| r.from <= now && now < r.until)
}

/// Remembers a verdict reached at `from` that holds until `until` (excluded); an empty window
/// is not remembered.
pub(crate) fn remember(key: [u8; 32], from: UnixTime, until: UnixTime, verified: Verified) {
    if until <= from {
        return;
    }
    let remembered = Remembered {
        from,
        until,
        verified,
    };
    insert(&mut VERDICTS.lock(), key, remembered);
}

fn insert(verdicts: &mut BTreeMap<[u8; 32], Remembered>, key: [u8; 32], remembered: Remembered) {
    if verdicts.len() >= MAX_REMEMBERED {
        verdicts.clear();
    }
    verdicts.insert(key, remembered);
}

/// The end of the window of a verdict reached at `now`: the earliest of `changes` after `now`.
/// A change is the first second at which a comparison with the clock can come out otherwise:
/// a notBefore, a thisUpdate, an expiry, or the second after a notAfter or a nextUpdate (valid
/// through it). Between `now` and the first change, every comparison is as it was at `now`.
pub(crate) fn until(now: UnixTime, changes: impl IntoIterator<Item = UnixTime>) -> UnixTime {
    changes
        .into_iter()
        .filter(|t| *t > now)
        .min()
        .unwrap_or(UnixTime(u64::MAX))
}

/// The second after `time`: when a bound valid through `time` stops holding.
pub(crate) fn after(time: UnixTime) -> UnixTime {
    UnixTime(time.0.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec::Vec;

    use super::*;

    fn key(parts: &[&[u8]]) -> [u8; 32] {
        new_key().of(parts)
    }

    fn verified(logged: &str) -> Verified {
        Verified {
            statement: "memo test".into(),
            signer: Some("CN=memo".into()),
            logged: alloc::vec![String::from(logged)],
        }
    }

    #[test]
    fn a_verdict_is_recalled_only_within_its_window_and_with_what_was_logged() {
        let k = key(&[b"memo window"]);
        remember(k, UnixTime(100), UnixTime(200), verified("expiry: logged"));
        assert_eq!(recall(&k, UnixTime(100)), Some(verified("expiry: logged")));
        assert!(known(&k, UnixTime(199)));
        assert_eq!(recall(&k, UnixTime(200)), None);
        assert_eq!(recall(&k, UnixTime(99)), None);
        assert!(!known(&key(&[b"memo window", b""]), UnixTime(150)));
    }

    #[test]
    fn an_empty_window_is_not_remembered_and_the_map_stays_bounded() {
        let k = key(&[b"memo empty"]);
        remember(k, UnixTime(100), UnixTime(100), verified(""));
        assert!(!known(&k, UnixTime(100)));
        // A map of its own: clearing the shared one would race the other tests.
        let mut verdicts = BTreeMap::new();
        for n in 0..=MAX_REMEMBERED as u64 {
            let remembered = Remembered {
                from: UnixTime(0),
                until: UnixTime(1),
                verified: verified(""),
            };
            insert(
                &mut verdicts,
                key(&[b"memo bound", &n.to_be_bytes()]),
                remembered,
            );
        }
        assert!(verdicts.len() <= MAX_REMEMBERED);
    }

    #[test]
    fn the_window_ends_at_the_earliest_change_after_now() {
        let changes: Vec<UnixTime> = [50, 300, 120, 100, 99].map(UnixTime).into();
        assert_eq!(until(UnixTime(100), changes.clone()), UnixTime(120));
        assert_eq!(until(UnixTime(49), changes), UnixTime(50));
        assert_eq!(until(UnixTime(1), []), UnixTime(u64::MAX));
        assert_eq!(after(UnixTime(u64::MAX)), UnixTime(u64::MAX));
    }
}

//! Rekor v1's inclusion promise, the signed entry timestamp (SET): the log's signature over
//! the entry's body, integrated time, log ID and index, as Go's canonical JSON.

use alloc::string::String;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::TlogError;
use crate::crypto::hex;
use crate::sigstore::bundle::TlogEntry;
use crate::sigstore::trusted_root::LogKey;
use crate::time::UnixTime;

/// Verifies `promise` over `entry` with the log's key; returns the integrated time it signs.
pub(super) fn verify(
    entry: &TlogEntry,
    promise: &[u8],
    log: &LogKey,
) -> Result<UnixTime, TlogError> {
    let time = entry.integrated_time.ok_or(TlogError::PromiseWithoutTime)?;
    let signed = payload(entry, time);
    if !log.key.verify(log.hash, signed.as_bytes(), promise) {
        return Err(TlogError::Promise);
    }
    Ok(time)
}

/// `{"body":…,"integratedTime":…,"logID":…,"logIndex":…}` as Rekor signs it (RFC 8785 /
/// Go's canonical JSON of these four fields: keys sorted, no spaces). Written by hand: the
/// values are base64, lower-case hex and integers, none of which JSON escapes, so the text is
/// fixed and a canonical-JSON crate would add nothing.
fn payload(entry: &TlogEntry, time: UnixTime) -> String {
    alloc::format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        STANDARD.encode(&entry.body),
        time.0,
        hex(&entry.log_id),
        entry.log_index
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn the_signed_payload_is_canonical_json_with_sorted_keys() {
        let entry = TlogEntry {
            log_index: 7,
            log_id: vec![0xc0, 0xd2],
            kind: "hashedrekord".into(),
            kind_version: "0.0.1".into(),
            integrated_time: Some(UnixTime(1_689_177_396)),
            inclusion_promise: None,
            inclusion_proof: None,
            body: b"{}".to_vec(),
        };
        assert_eq!(
            payload(&entry, UnixTime(1_689_177_396)),
            r#"{"body":"e30=","integratedTime":1689177396,"logID":"c0d2","logIndex":7}"#
        );
    }
}

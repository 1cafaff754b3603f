//! The one wall clock the webhook hands the core (which never reads one).

use std::time::{SystemTime, UNIX_EPOCH};

use portieris_core::time::UnixTime;

/// Now, in whole seconds. A clock before 1970 reads as 0, which makes every signature and
/// every role "from the future" or expired: fail closed.
pub fn now() -> UnixTime {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UnixTime(seconds)
}

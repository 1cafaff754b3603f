//! Splitting one fuzzer input into a document and the control bytes that steer the harness.

use arbitrary::Unstructured;
use portieris_core::reference::Digest;

/// The document before the last NUL byte and the control bytes after it; without a NUL, the
/// whole input is the document and there are no control bytes.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().rposition(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[]),
    }
}

/// A few fixed digests, so that evidence can agree or disagree.
pub fn digest(index: usize) -> Digest {
    const HEX: [&str; 3] = [
        "1111111111111111111111111111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ];
    let text = format!("sha256:{}", HEX[index % HEX.len()]);
    Digest::parse(&text).expect("a fixed, valid digest")
}

/// A byte from the control bytes, or `default` once they run out.
pub fn byte(u: &mut Unstructured<'_>, default: u8) -> u8 {
    if u.is_empty() {
        default
    } else {
        u.arbitrary().unwrap_or(default)
    }
}

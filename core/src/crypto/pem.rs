//! PEM as Go's `encoding/pem` reads and writes it.
//!
//! Hand-written because key IDs depend on the exact bytes Go's `pem.EncodeToMemory` produces
//! (64-column base64, `\n` line ends, no headers), and signer keys arrive as Docker writes them,
//! with headers such as `role: alice` that RFC 7468 parsers (`pem-rfc7468`) refuse.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

/// The first well-formed block in `text`, skipping anything before it, as `pem.Decode` does.
/// Header lines (`Key: value`) between the BEGIN line and the body are ignored.
pub(crate) fn decode_first(text: &str) -> Option<Block> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim_end()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        let end = alloc::format!("-----END {label}-----");
        let mut body = String::new();
        let mut in_body = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                let der = STANDARD.decode(&body).ok()?;
                return Some(Block {
                    label: label.into(),
                    der,
                });
            }
            if !in_body && (line.is_empty() || line.contains(':')) {
                continue;
            }
            in_body = true;
            body.push_str(line);
        }
        return None;
    }
    None
}

/// Every well-formed block in `text`, in order; `None` if a block starts but does not end
/// well (a certificate bundle is all or nothing).
pub(crate) fn decode_all(text: &str) -> Option<Vec<Block>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        rest = rest.get(start..)?;
        blocks.push(decode_first(rest)?);
        // Past this block's END line: the next BEGIN starts the next block.
        let end = rest.find("-----END ")?;
        rest = rest.get(end + "-----END ".len()..)?;
    }
    Some(blocks)
}

/// `pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der})`.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let base64 = STANDARD.encode(der);
    let mut text = alloc::format!("-----BEGIN {label}-----\n");
    // Base64 is ASCII, so splitting its bytes never cuts a character.
    for line in base64.as_bytes().chunks(64) {
        text.extend(line.iter().map(|&b| char::from(b)));
        text.push('\n');
    }
    text.push_str(&alloc::format!("-----END {label}-----\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_docker_public_key_with_role_header() {
        let text =
            "-----BEGIN PUBLIC KEY-----\nrole: alice\n\nAAEC\nAwQF\n-----END PUBLIC KEY-----\n";
        let block = decode_first(text).expect("a block");
        assert_eq!(block.label, "PUBLIC KEY");
        assert_eq!(block.der, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn skips_text_before_the_block_and_reads_crlf() {
        let text = "junk\r\n-----BEGIN CERTIFICATE-----\r\nAAEC\r\n-----END CERTIFICATE-----\r\n";
        assert_eq!(
            decode_first(text).map(|b| b.der),
            Some(alloc::vec![0, 1, 2])
        );
    }

    #[test]
    fn refuses_unterminated_or_mismatched_blocks() {
        assert_eq!(decode_first("-----BEGIN CERTIFICATE-----\nAAEC\n"), None);
        assert_eq!(
            decode_first("-----BEGIN CERTIFICATE-----\nAAEC\n-----END PUBLIC KEY-----\n"),
            None
        );
        assert_eq!(
            decode_first("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            None
        );
    }

    #[test]
    fn encodes_like_go_with_64_columns() {
        let der = [7u8; 60];
        let text = encode("CERTIFICATE", &der);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.get(1).map(|l| l.len()), Some(64));
        assert_eq!(lines.get(2).map(|l| l.len()), Some(16));
        assert_eq!(lines.get(3), Some(&"-----END CERTIFICATE-----"));
        assert!(text.ends_with("-----\n"));
        assert_eq!(decode_first(&text).map(|b| b.der), Some(der.to_vec()));
    }
}

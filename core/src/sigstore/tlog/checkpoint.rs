//! Checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes.
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root hash>\n[extension lines\n]
//! \n
//! — <key name> <base64(4-byte key hint ‖ signature)>\n   (one or more)
//! ```
//!
//! The log's signature is the one line whose key name is the log's name (its base URL without
//! the scheme) and whose hint is the first 4 bytes of the log's note key ID: for Rekor v1's
//! ECDSA keys, SHA-256 of the DER public key; for Rekor v2's Ed25519 keys, C2SP's
//! SHA-256(name ‖ `\n` ‖ 0x01 ‖ key). Sigstore's trusted roots use that same hash as the log
//! ID (checked on the vectors' roots in the tests); a hint equal to the log ID's is accepted
//! too. Lines from other keys (witness cosignatures) are ignored; a line from the log's key
//! must verify, and one must be there. Written by hand: no no_std crate reads signed notes.

use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use sha2::{Digest as _, Sha256};

use crate::crypto::keys::Verifier;
use crate::limits::MAX_CHECKPOINT_SIGNATURES;
use crate::sigstore::bundle::InclusionProof;
use crate::sigstore::trusted_root::LogKey;

/// Why a checkpoint does not vouch for the proof.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not a signed note: no blank line before the signatures, no final newline, a malformed
    /// signature line, or none at all.
    Note,
    /// More signature lines than [`MAX_CHECKPOINT_SIGNATURES`].
    TooManySignatures(usize),
    /// The note is not a checkpoint: no origin, size or root-hash line.
    Body,
    /// The origin line does not name the log.
    Origin,
    /// No signature line is from the log's key.
    NoLogSignature,
    /// A signature line from the log's key does not verify.
    Signature,
    /// The checkpoint's size or root hash is not the proof's.
    Mismatch,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Note => f.write_str("not a signed note"),
            Self::TooManySignatures(count) => write!(
                f,
                "{count} signature lines, more than {MAX_CHECKPOINT_SIGNATURES}"
            ),
            Self::Body => f.write_str("no origin, tree size and root hash lines"),
            Self::Origin => f.write_str("the origin is not the log's"),
            Self::NoLogSignature => f.write_str("no signature by the log's key"),
            Self::Signature => f.write_str("the log's signature does not verify"),
            Self::Mismatch => f.write_str("its tree size or root hash is not the proof's"),
        }
    }
}

impl core::error::Error for CheckpointError {}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NoteSignature<'a> {
    name: &'a str,
    hint: [u8; 4],
    signature: Vec<u8>,
}

/// A checkpoint's body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Checkpoint<'a> {
    origin: &'a str,
    size: u64,
    root_hash: [u8; 32],
}

/// Verifies that `text` is a checkpoint signed by `log` for the tree of `proof`.
pub(super) fn verify(
    text: &str,
    proof: &InclusionProof,
    log: &LogKey,
) -> Result<(), CheckpointError> {
    let (note, signatures) = split_note(text)?;
    let checkpoint = parse_body(note)?;
    let name = log_name(&log.base_url, checkpoint.origin).ok_or(CheckpointError::Origin)?;
    check_log_signature(note.as_bytes(), &signatures, name, log)?;
    if checkpoint.size != proof.tree_size || checkpoint.root_hash != proof.root_hash {
        return Err(CheckpointError::Mismatch);
    }
    Ok(())
}

/// The log's note name, as the checkpoint's `origin` gives it, if it is the log's: its base
/// URL's authority (`host:port`, as Rekor v1 names itself) or host alone (as rekor-tiles does
/// by default), and for Rekor v1 shards followed by ` - <tree ID>`.
fn log_name<'a>(base_url: &'a str, origin: &str) -> Option<&'a str> {
    let named = |name: &str| {
        origin == name
            || origin
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(" - "))
    };
    names(base_url).into_iter().find(|name| named(name))
}

/// The names a log at `base_url` may sign as: its authority and its host.
fn names(base_url: &str) -> [&str; 2] {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .unwrap_or(base_url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => authority.split(':').next().unwrap_or(authority),
    };
    [authority, host]
}

/// At least one signature line from the log's key, and every one verifies over `note`.
fn check_log_signature(
    note: &[u8],
    signatures: &[NoteSignature<'_>],
    name: &str,
    log: &LogKey,
) -> Result<(), CheckpointError> {
    let by_id = log.log_id.get(..4);
    let by_key = key_id(name, log);
    let mut from_log = signatures
        .iter()
        .filter(|line| {
            line.name == name
                && (by_id == Some(line.hint.as_slice()) || by_key.get(..4) == Some(&line.hint[..]))
        })
        .peekable();
    if from_log.peek().is_none() {
        return Err(CheckpointError::NoLogSignature);
    }
    if !from_log.all(|line| log.key.verify(log.hash, note, &line.signature)) {
        return Err(CheckpointError::Signature);
    }
    Ok(())
}

/// The note key ID of the log's key, computed from the key: C2SP's SHA-256(name ‖ `\n` ‖ 0x01 ‖
/// key) for Ed25519; for ECDSA, Rekor's SHA-256 of the DER SubjectPublicKeyInfo. A trusted
/// root's log ID is the same (see the tests), but a custom root may derive its IDs otherwise;
/// either identifies the key, and a line so marked must verify with it anyway.
fn key_id(name: &str, log: &LogKey) -> [u8; 32] {
    match &log.key {
        Verifier::Ed25519(key) => Sha256::new()
            .chain_update(name)
            .chain_update([b'\n', 0x01])
            .chain_update(key.as_bytes())
            .finalize()
            .into(),
        Verifier::Ecdsa(_) | Verifier::EcdsaP384(_) | Verifier::EcdsaP521(_) | Verifier::Rsa(_) => {
            Sha256::digest(&log.key_der).into()
        }
    }
}

/// Splits a signed note into its text (up to and including the newline before the blank
/// line) and its signature lines.
fn split_note(text: &str) -> Result<(&str, Vec<NoteSignature<'_>>), CheckpointError> {
    let blank = text.find("\n\n").ok_or(CheckpointError::Note)?;
    let (note, rest) = text.split_at(blank + 1);
    let block = rest
        .strip_prefix('\n')
        .and_then(|block| block.strip_suffix('\n'))
        .ok_or(CheckpointError::Note)?;
    let lines: Vec<&str> = block.split('\n').collect();
    if lines.len() > MAX_CHECKPOINT_SIGNATURES {
        return Err(CheckpointError::TooManySignatures(lines.len()));
    }
    let signatures = lines
        .into_iter()
        .map(signature_line)
        .collect::<Option<Vec<_>>>()
        .ok_or(CheckpointError::Note)?;
    Ok((note, signatures))
}

/// `— <name> <base64(hint ‖ signature)>`; the name has no spaces and is not empty.
fn signature_line(line: &str) -> Option<NoteSignature<'_>> {
    let rest = line.strip_prefix("\u{2014} ")?;
    let (name, encoded) = rest.split_once(' ')?;
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
        return None;
    }
    let raw = STANDARD.decode(encoded).ok()?;
    let (hint, signature) = raw.split_first_chunk::<4>()?;
    if signature.is_empty() {
        return None;
    }
    Some(NoteSignature {
        name,
        hint: *hint,
        signature: signature.to_vec(),
    })
}

/// `origin\nsize\nroot\n[extensions\n]`: the origin is the first line and not empty; the size
/// is decimal without leading zeros; the root hash is base64 of 32 bytes.
fn parse_body(note: &str) -> Result<Checkpoint<'_>, CheckpointError> {
    let mut lines = note.split('\n');
    let origin = lines.next().filter(|line| !line.is_empty());
    let size = lines.next().and_then(decimal);
    let root_hash = lines
        .next()
        .and_then(|line| STANDARD.decode(line).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
    match (origin, size, root_hash) {
        (Some(origin), Some(size), Some(root_hash)) => Ok(Checkpoint {
            origin,
            size,
            root_hash,
        }),
        _ => Err(CheckpointError::Body),
    }
}

fn decimal(line: &str) -> Option<u64> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    canonical.then(|| line.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    const ROOT: &str = "dauhleYK4YyAdxwwDtR0l0KnSOWZdG2bwqHftlanvcI=";

    #[test]
    fn a_note_splits_into_text_and_signature_lines() {
        let text = alloc::format!(
            "origin\n5\n{ROOT}\nTimestamp: 1\n\n\u{2014} origin AAAAAQI=\n\u{2014} w.example AAAAAgM=\n"
        );
        let (note, lines) = split_note(&text).expect("a note");
        assert_eq!(note, alloc::format!("origin\n5\n{ROOT}\nTimestamp: 1\n"));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].name, "origin");
        assert_eq!(lines[0].hint, [0, 0, 0, 1]);
        assert_eq!(lines[0].signature, [2]);
        assert_eq!(lines[1].name, "w.example");
        let body = parse_body(note).expect("a checkpoint");
        assert_eq!((body.origin, body.size), ("origin", 5));
    }

    #[test]
    fn malformed_notes_are_refused() {
        for text in [
            alloc::format!("origin\n5\n{ROOT}\n"),
            alloc::format!("origin\n5\n{ROOT}\n\n"),
            alloc::format!("origin\n5\n{ROOT}\n\n\u{2014} origin AAAAAQI="),
            alloc::format!("origin\n5\n{ROOT}\n\n- origin AAAAAQI=\n"),
            alloc::format!("origin\n5\n{ROOT}\n\n\u{2014} origin AAAAAQ==\n"),
            alloc::format!("origin\n5\n{ROOT}\n\n\u{2014}  AAAAAQI=\n"),
            alloc::format!("origin\n5\n{ROOT}\n\n\u{2014} origin AAAAAQI=\n\n"),
            alloc::format!("origin\n5\n{ROOT}\n\n\u{2014} origin !!!\n"),
        ] {
            assert_eq!(
                split_note(&text).err(),
                Some(CheckpointError::Note),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_body_needs_origin_size_and_root_in_that_order() {
        for note in [
            alloc::format!("5\n{ROOT}\n"),
            alloc::format!("\n5\n{ROOT}\n"),
            alloc::format!("origin\n{ROOT}\n"),
            alloc::format!("origin\n05\n{ROOT}\n"),
            alloc::format!("origin\n-5\n{ROOT}\n"),
            "origin\n5\n".into(),
            "origin\n5\nAAAA\n".into(),
        ] {
            assert_eq!(parse_body(&note), Err(CheckpointError::Body), "{note:?}");
        }
    }

    use crate::sigstore::trusted_root::Validity;
    use crate::time::UnixTime;
    use ed25519_dalek::Signer as _;

    const NAME: &str = "log.example";

    /// An Ed25519 log at `https://log.example`, as Rekor v2 logs are.
    fn ed25519_log() -> (ed25519_dalek::SigningKey, LogKey) {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let mut log = LogKey {
            base_url: alloc::format!("https://{NAME}"),
            log_id: Vec::new(),
            key: Verifier::Ed25519(signing.verifying_key()),
            hash: crate::crypto::keys::Hash::Sha512,
            key_der: Vec::new(),
            validity: Validity {
                start: UnixTime(0),
                end: None,
            },
        };
        log.log_id = key_id(NAME, &log).to_vec();
        (signing, log)
    }

    fn line(signing: &ed25519_dalek::SigningKey, name: &str, hint: &[u8], note: &str) -> String {
        let mut raw = hint.to_vec();
        raw.extend_from_slice(&signing.sign(note.as_bytes()).to_bytes());
        alloc::format!("\u{2014} {name} {}\n", STANDARD.encode(raw))
    }

    fn proof(size: u64, root: [u8; 32]) -> InclusionProof {
        InclusionProof {
            log_index: 0,
            root_hash: root,
            tree_size: size,
            hashes: Vec::new(),
            checkpoint: None,
        }
    }

    /// A checkpoint for a tree of 5 with root `[1; 32]`, signed by the log under `origin`,
    /// with `extra` signature lines after the log's.
    fn checkpoint(origin: &str, extra: &str) -> (String, LogKey) {
        let (signing, log) = ed25519_log();
        let note = alloc::format!("{origin}\n5\n{}\n", STANDARD.encode([1; 32]));
        let signature = line(&signing, NAME, &log.log_id[..4], &note);
        (alloc::format!("{note}\n{signature}{extra}"), log)
    }

    #[test]
    fn a_checkpoint_signed_by_the_log_for_the_proofs_tree_verifies() {
        let (text, log) = checkpoint(NAME, "");
        assert_eq!(verify(&text, &proof(5, [1; 32]), &log), Ok(()));
        assert_eq!(
            verify(&text, &proof(6, [1; 32]), &log),
            Err(CheckpointError::Mismatch)
        );
        assert_eq!(
            verify(&text, &proof(5, [2; 32]), &log),
            Err(CheckpointError::Mismatch)
        );
    }

    #[test]
    fn the_origin_is_the_logs_name_or_a_shard_of_it() {
        let (text, log) = checkpoint("log.example - 1193050959916656506", "");
        assert_eq!(verify(&text, &proof(5, [1; 32]), &log), Ok(()));
        for origin in [
            "log.example.evil",
            "log.example-1",
            "evil log.example",
            "log.example ",
        ] {
            let (text, log) = checkpoint(origin, "");
            assert_eq!(
                verify(&text, &proof(5, [1; 32]), &log),
                Err(CheckpointError::Origin),
                "{origin}"
            );
        }
    }

    #[test]
    fn other_keys_lines_are_ignored_but_every_line_of_the_logs_key_must_verify() {
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let witness = line(&stranger, "witness.example", &[1, 2, 3, 4], "anything");
        let (text, log) = checkpoint(NAME, &witness);
        assert_eq!(verify(&text, &proof(5, [1; 32]), &log), Ok(()));
        let (_, real) = ed25519_log();
        let forged = line(&stranger, NAME, &real.log_id[..4], "anything");
        let (text, log) = checkpoint(NAME, &forged);
        assert_eq!(
            verify(&text, &proof(5, [1; 32]), &log),
            Err(CheckpointError::Signature)
        );
    }

    #[test]
    fn a_line_from_the_logs_key_under_another_name_is_not_the_logs() {
        let (signing, log) = ed25519_log();
        let note = alloc::format!("{NAME}\n5\n{}\n", STANDARD.encode([1; 32]));
        let text = alloc::format!(
            "{note}\n{}",
            line(&signing, "other.example", &log.log_id[..4], &note)
        );
        assert_eq!(
            verify(&text, &proof(5, [1; 32]), &log),
            Err(CheckpointError::NoLogSignature)
        );
    }

    /// What the module doc claims: every log of the vectors' trusted roots has, as its log ID,
    /// the note key ID computed from its key and name.
    #[test]
    fn trusted_roots_name_logs_by_their_note_key_id() {
        use crate::sigstore::tlog::conformance::{DIR, read, tlogs};
        let dir = std::path::Path::new(DIR);
        let mut roots: Vec<_> = [
            "../../../src/sigstore/public-good.trusted_root.json",
            "staging-trusted_root.json",
        ]
        .iter()
        .map(|name| dir.join(name))
        .collect();
        for case in std::fs::read_dir(dir.join("conformance")).expect("the vectors") {
            roots.push(case.expect("a case").path().join("trusted_root.json"));
        }
        let mut checked = 0;
        for path in roots {
            let Some(json) = read(&path) else { continue };
            let root = serde_json::from_slice(&json).expect("JSON");
            for log in tlogs(&root).into_iter().flatten() {
                let ids = names(&log.base_url).map(|name| key_id(name, &log));
                assert!(
                    ids.iter().any(|id| id.as_slice() == log.log_id),
                    "{}",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "{checked} logs");
    }

    #[test]
    fn the_log_name_is_the_base_urls_authority_or_host() {
        let named = |url, origin| log_name(url, origin);
        assert_eq!(
            named("https://rekor.sigstore.dev", "rekor.sigstore.dev - 1"),
            Some("rekor.sigstore.dev")
        );
        assert_eq!(
            named("http://localhost:8000/", "localhost:8000 - 12"),
            Some("localhost:8000")
        );
        assert_eq!(
            named("http://127.0.0.1:5563/api", "127.0.0.1"),
            Some("127.0.0.1")
        );
        assert_eq!(named("http://[::1]:5563", "::1"), Some("::1"));
        assert_eq!(named("http://127.0.0.1:5563", "127.0.0.2"), None);
        assert_eq!(named("http://127.0.0.1:5563", "127.0.0.1:5564"), None);
        assert_eq!(
            named("https://rekor.sigstore.dev", "rekor.sigstore.dev-1"),
            None
        );
        assert_eq!(named("rekor-local", "rekor-local"), Some("rekor-local"));
    }
}

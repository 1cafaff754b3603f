//! "A cluster in a folder": ImagePolicy, ClusterImagePolicy and Secret documents read from
//! YAML or JSON files, the standalone alternative to the Kubernetes API.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portieris_core::PolicySet;
use portieris_core::policy::Resource;
use serde_json::Value;
use serde_saphyr::Spanned;
use serde_saphyr::granit_parser::{Event, Parser};

use crate::policies::PolicyStore;

/// Largest policy file read; policy folders are small, and this bounds a mistaken mount.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Alias expansion bound per document, in replayed parser events: room for a shared policy
/// referenced hundreds of times, while a "billion laughs" document fails in milliseconds.
const MAX_ALIAS_EVENTS: usize = 10_000;

/// Where an object came from: a file and the document's position in it (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub document: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {})", self.file.display(), self.document)
    }
}

/// A problem that keeps a file or document from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// Everything read from a folder.
#[derive(Debug, Default)]
pub struct Folder {
    pub resources: Vec<(Origin, Resource)>,
    pub problems: Vec<Problem>,
}

impl Folder {
    /// The policy snapshot, or every problem when any file could not be read whole: a policy
    /// that could not be read might have been the one that denies.
    pub fn into_policy_set(self) -> Result<PolicySet, Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(PolicySet::new(self.resources.into_iter().map(|(_, r)| r)))
        } else {
            Err(self.problems)
        }
    }
}

/// Reads every `*.yaml`, `*.yml` and `*.json` file below `dir` (sorted; names starting with
/// `.` skipped, which also skips the `..data` copies of a mounted ConfigMap).
pub fn load(dir: &Path) -> std::io::Result<Folder> {
    let mut folder = Folder::default();
    for file in files(dir)? {
        read_file(&file, &mut folder);
    }
    Ok(folder)
}

fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn read_file(file: &Path, folder: &mut Folder) {
    let origin = |document| Origin {
        file: file.to_path_buf(),
        document,
    };
    let text = match read_bounded(file) {
        Ok(text) => text,
        Err(e) => {
            return folder.problems.push(Problem {
                origin: origin(0),
                message: e.to_string(),
            });
        }
    };
    let stream = read_yaml(&text);
    for document in stream.documents {
        match Resource::from_value(&document.value) {
            Ok(resource) => folder.resources.push((origin(document.number), resource)),
            Err(e) => folder.problems.push(Problem {
                origin: origin(document.number),
                message: e.to_string(),
            }),
        }
    }
    if let Some((number, error)) = stream.error {
        folder.problems.push(Problem {
            origin: origin(number),
            message: error.to_string(),
        });
    }
}

fn read_bounded(file: &Path) -> std::io::Result<String> {
    let size = std::fs::metadata(file)?.len();
    if size > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_BYTES} bytes"
        )));
    }
    std::fs::read_to_string(file)
}

/// One document of a YAML (or JSON) stream: its position (from 1, empty documents counted, as
/// `(document N)` in problems) and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub number: usize,
    pub value: Value,
}

/// Why a YAML stream could not be read from some document on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlError {
    /// A key written twice in one mapping. Refused rather than resolved: with "last wins" a
    /// second, weaker value (a typo, or an edit an attacker slipped in) silently replaces the
    /// first. `key` is `None` for a key that is not a scalar.
    DuplicateKey {
        key: Option<String>,
        line: u64,
        column: u64,
    },
    /// Bad syntax, an unsupported tag or merge key, or a size limit (alias expansion, nesting).
    Invalid(String),
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            YamlError::DuplicateKey { key, line, column } => {
                let key = key
                    .as_deref()
                    .map(|k| format!(" `{k}`"))
                    .unwrap_or_default();
                write!(
                    f,
                    "duplicate key{key} at line {line}, column {column}: a key may appear only once in a mapping"
                )
            }
            YamlError::Invalid(message) => write!(f, "not valid YAML: {message}"),
        }
    }
}

impl std::error::Error for YamlError {}

/// The documents of a stream read before the first that could not be read, and that one's
/// number and problem.
#[derive(Debug, Default)]
pub struct YamlStream {
    pub documents: Vec<Document>,
    pub error: Option<(usize, YamlError)>,
}

/// Reads a multi-document YAML (or JSON) text as JSON values: the one reader of policy YAML
/// (the policy folder and the Python binding). Empty documents are skipped; reading stops at
/// the first document that cannot be read, as after a syntax error the rest of the stream
/// cannot be trusted.
pub fn read_yaml(text: &str) -> YamlStream {
    let starts = document_lines(text);
    let number = |line: u64| starts.partition_point(|&start| start <= line).max(1);
    let mut stream = YamlStream::default();
    let mut input = text.as_bytes();
    for result in serde_saphyr::read_with_options::<_, Spanned<Value>>(&mut input, yaml_options()) {
        match result {
            Ok(Spanned { value, .. }) if value.is_null() => {}
            Ok(Spanned {
                value, referenced, ..
            }) => stream.documents.push(Document {
                number: number(referenced.line()),
                value,
            }),
            Err(e) => {
                let after_last = stream.documents.last().map_or(1, |d| d.number + 1);
                let at = e.location().map(|l| l.line()).filter(|&line| line > 0);
                stream.error = Some((at.map_or(after_last, number), yaml_error(&e)));
                break;
            }
        }
    }
    stream
}

/// How policy YAML is read. Scalars resolve as in YAML 1.2 (and serde_yaml before): only
/// `true`/`false` are booleans, `0755` and `1_000` stay strings. Refused: duplicate keys, merge
/// keys (`<<` lets one mapping's keys override another's, the same ambiguity), tags outside
/// the YAML core (Kubernetes objects never have them), and alias expansion past
/// `MAX_ALIAS_EVENTS`; the crate's default budget bounds nesting (64), nodes and events.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        merge_keys: serde_saphyr::MergeKeyPolicy::Error,
        reject_unsupported_tags: true,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_EVENTS,
        },
    }
}

/// The line of each document's start, empty documents included: the deserializer skips empty
/// documents, so this is what numbers the ones it returns as the file has them.
fn document_lines(text: &str) -> Vec<u64> {
    let mut lines = Vec::new();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((Event::DocumentStart(..), span)) => lines.push(span.start.line() as u64),
            Ok(_) => {}
            // The deserializer reports the same error, at the same place.
            Err(_) => break,
        }
    }
    lines
}

fn yaml_error(error: &serde_saphyr::Error) -> YamlError {
    let mut cause = error;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = cause
    {
        cause = error;
    }
    match cause {
        serde_saphyr::Error::DuplicateMappingKey { key, location } => YamlError::DuplicateKey {
            key: key.clone(),
            line: location.line(),
            column: location.column(),
        },
        _ => YamlError::Invalid(error.to_string()),
    }
}

/// Names, sizes and modification times of the folder's files: what a change would alter.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let files = files(dir).unwrap_or_default();
    files
        .into_iter()
        .map(|f| {
            let meta = std::fs::metadata(&f).ok();
            let size = meta.as_ref().map_or(0, |m| m.len());
            (f, size, meta.and_then(|m| m.modified().ok()))
        })
        .collect()
}

/// Polls the folder and swaps in a new snapshot when it changed and reads cleanly; on
/// problems the snapshot in force stays, and the problems are logged.
pub async fn watch(dir: PathBuf, store: Arc<PolicyStore>, interval: Duration) {
    let mut seen = fingerprint(&dir);
    loop {
        tokio::time::sleep(interval).await;
        let now = fingerprint(&dir);
        if now == seen {
            continue;
        }
        seen = now;
        match load(&dir).map(Folder::into_policy_set) {
            Ok(Ok(set)) => {
                store.replace(set);
                tracing::info!(dir = %dir.display(), "policies reloaded");
            }
            Ok(Err(problems)) => {
                for problem in problems {
                    tracing::error!(%problem, "policy folder not reloaded; keeping the policies in force");
                }
            }
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e, "policy folder not readable; keeping the policies in force")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;

    fn values(text: &str) -> Vec<(usize, Value)> {
        let stream = read_yaml(text);
        assert_eq!(stream.error, None, "{text}");
        stream
            .documents
            .into_iter()
            .map(|d| (d.number, d.value))
            .collect()
    }

    fn refused(text: &str) -> (usize, YamlError) {
        read_yaml(text)
            .error
            .unwrap_or_else(|| panic!("accepted: {text}"))
    }

    fn duplicate_key(text: &str) -> (Option<String>, u64) {
        match refused(text) {
            (_, YamlError::DuplicateKey { key, line, .. }) => (key, line),
            (_, other) => panic!("not a duplicate key: {other}"),
        }
    }

    #[test]
    fn scalars_read_as_before() {
        let text = "a: 1\nb: -1.5\nc: true\nd: yes\ne: null\nf: ~\ng: '1'\nh: 0755\ni: 1_000\nj: on\nk:\nl: \"x\\ny\"\nm: 2001-12-14\nkey: |\n  -----BEGIN PUBLIC KEY-----\n  MFkw\n  -----END PUBLIC KEY-----\n";
        let expected = json!({
            "a": 1, "b": -1.5, "c": true, "d": "yes", "e": null, "f": null, "g": "1",
            "h": "0755", "i": "1_000", "j": "on", "k": null, "l": "x\ny", "m": "2001-12-14",
            "key": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
        });
        assert_eq!(values(text), vec![(1, expected)]);
        assert_eq!(
            values("{\"a\": [1, {\"b\": null}]}"),
            vec![(1, json!({"a": [1, {"b": null}]}))]
        );
    }

    #[test]
    fn documents_are_numbered_as_written_with_empty_ones_counted() {
        let text = "# head\na: 1\n---\n---\nb: 2\n--- # nothing\n---\nc: 3\n...\n---\nd: 4\n";
        let numbers: Vec<usize> = values(text).into_iter().map(|(n, _)| n).collect();
        assert_eq!(numbers, [1, 3, 5, 6]);
        assert!(values("").is_empty());
        assert!(values("# only a comment\n").is_empty());
    }

    #[test]
    fn reading_stops_at_the_first_bad_document() {
        let stream = read_yaml("a: 1\n---\n---\nb: [\n---\nc: 3\n");
        assert_eq!(stream.documents.len(), 1);
        let (number, error) = stream.error.expect("an error");
        assert_eq!(number, 3);
        assert!(error.to_string().starts_with("not valid YAML: "), "{error}");
    }

    #[test]
    fn duplicate_policy_is_refused() {
        let text = "kind: ClusterImagePolicy\nspec:\n  repositories:\n    - name: \"icr.io/*\"\n      policy: {trust: {enabled: true}}\n      policy: {}\n";
        assert_eq!(duplicate_key(text), (Some("policy".into()), 6));
    }

    #[test]
    fn duplicate_simple_is_refused() {
        let text = "spec:\n  repositories:\n    - name: \"icr.io/*\"\n      policy:\n        simple:\n          requirements: [{type: signedBy, keySecret: k}]\n        simple: {requirements: [{type: insecureAcceptAnything}]}\n";
        assert_eq!(duplicate_key(text), (Some("simple".into()), 7));
    }

    #[test]
    fn duplicate_secret_data_is_refused() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: k, namespace: team}\nstringData:\n  cosign.pub: good\n  cosign.pub: other\n";
        assert_eq!(duplicate_key(text), (Some("cosign.pub".into()), 6));
    }

    #[test]
    fn duplicate_top_level_spec_is_refused_in_its_document() {
        let text = "kind: A\n---\nkind: ClusterImagePolicy\nspec: {repositories: [{name: \"*\", policy: {trust: {enabled: true}}}]}\nspec: {repositories: [{name: \"*\"}]}\n";
        let (number, error) = refused(text);
        assert_eq!(number, 2);
        assert_eq!(
            error.to_string(),
            "duplicate key `spec` at line 5, column 1: a key may appear only once in a mapping"
        );
        // Flow mappings and JSON are YAML too.
        assert_eq!(
            duplicate_key("{\"spec\": {}, \"spec\": {}}"),
            (Some("spec".into()), 1)
        );
    }

    #[test]
    fn merge_keys_and_custom_tags_are_refused() {
        for text in [
            "a: &p {trust: {enabled: true}}\nb:\n  <<: *p\n  trust: {enabled: false}\n",
            "a: !custom {}\n",
        ] {
            assert!(
                matches!(refused(text), (1, YamlError::Invalid(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn aliases_expand_within_bounds() {
        let text =
            "p: &p {trust: {enabled: true}}\nr: [{name: a, policy: *p}, {name: b, policy: *p}]\n";
        let value = &values(text)[0].1;
        assert_eq!(value["r"][1]["policy"], json!({"trust": {"enabled": true}}));
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for pair in b"abcdefghi".windows(2) {
            let (from, to) = (char::from(pair[0]), char::from(pair[1]));
            let list = vec![format!("*{from}"); 9].join(", ");
            text.push_str(&format!("{to}: &{to} [{list}]\n"));
        }
        let started = Instant::now();
        let (number, error) = refused(&text);
        assert_eq!(number, 1);
        assert!(error.to_string().contains("alias"), "{error}");
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(refused(&text), (1, YamlError::Invalid(_))));
    }
}

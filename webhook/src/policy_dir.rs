//! "A cluster in a folder": ImagePolicy, ClusterImagePolicy and Secret documents read from
//! YAML or JSON files, the standalone alternative to the Kubernetes API.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portieris_core::PolicySet;
use portieris_core::policy::Resource;
use serde::Deserialize as _;

use crate::policies::PolicyStore;

/// Largest policy file read; policy folders are small, and this bounds a mistaken mount.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

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
    for (i, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let origin = origin(i + 1);
        let value = match serde_json::Value::deserialize(document) {
            Ok(serde_json::Value::Null) => continue,
            Ok(value) => value,
            Err(e) => {
                // After a syntax error the rest of the stream cannot be trusted.
                folder.problems.push(Problem {
                    origin,
                    message: format!("not valid YAML: {e}"),
                });
                return;
            }
        };
        match Resource::from_value(&value) {
            Ok(resource) => folder.resources.push((origin, resource)),
            Err(e) => folder.problems.push(Problem {
                origin,
                message: e.to_string(),
            }),
        }
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

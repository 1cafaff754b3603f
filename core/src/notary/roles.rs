//! Role rules: delegation names and paths.

use alloc::string::String;
use alloc::vec::Vec;

use crate::limits;

/// Notary's `IsDelegation`: `targets/…`, only `[-a-z0-9_/]`, shorter than 256 bytes, and
/// already clean (no empty, `.` or `..` segment, no trailing `/`). Depth is bounded here too.
pub(crate) fn is_delegation(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("targets/") else {
        return false;
    };
    name.len() < 256
        && name
            .bytes()
            .all(|b| matches!(b, b'-' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'/'))
        && rest
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        && rest.split('/').count() <= limits::MAX_DELEGATION_DEPTH
}

/// Whether `child` is a valid delegation name directly under `parent`.
pub(crate) fn is_child(parent: &str, child: &str) -> bool {
    is_delegation(child)
        && child
            .strip_prefix(parent)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|leaf| !leaf.contains('/'))
}

/// Notary's `RestrictDelegationPathPrefixes`: the child's paths that fall under one of the
/// parent's (prefix match, not glob).
pub(crate) fn restrict_paths(parent: &[String], child: &[String]) -> Vec<String> {
    child
        .iter()
        .filter(|path| {
            parent
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
        })
        .cloned()
        .collect()
}

/// Notary's `CheckPaths`: a target name is covered when a path is its prefix.
pub(crate) fn covers(paths: &[String], target: &str) -> bool {
    paths
        .iter()
        .any(|prefix| target.starts_with(prefix.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString as _;

    #[test]
    fn delegation_names_follow_notary() {
        for name in [
            "targets/releases",
            "targets/alice",
            "targets/a/b",
            "targets/a-b_c9",
        ] {
            assert!(is_delegation(name), "{name}");
        }
        for name in [
            "targets",
            "targets/",
            "targets/Alice",
            "targets/a//b",
            "targets/a/",
            "targets/./a",
            "targets/..",
            "root",
            "targets/a b",
        ] {
            assert!(!is_delegation(name), "{name}");
        }
        assert!(!is_delegation(&alloc::format!(
            "targets/{}",
            "a".repeat(250)
        )));
    }

    #[test]
    fn children_are_direct() {
        assert!(is_child("targets", "targets/releases"));
        assert!(is_child("targets/releases", "targets/releases/team"));
        assert!(!is_child("targets", "targets/releases/team"));
        assert!(!is_child("targets/rel", "targets/releases"));
    }

    #[test]
    fn paths_are_prefixes_restricted_by_the_parent() {
        let all = ["".to_string()];
        let v = ["v".to_string(), "x".to_string()];
        assert!(covers(&all, "anything"));
        assert!(covers(&v, "v1.0"));
        assert!(!covers(&v, "latest"));
        assert!(!covers(&[], "v1"));
        assert_eq!(
            restrict_paths(&v, &["v1".to_string(), "w".to_string()]),
            ["v1"]
        );
        assert_eq!(restrict_paths(&all, &v), v);
    }
}

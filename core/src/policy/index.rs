//! The lookup structure of one scope's patterns, so that resolving an image costs about the
//! same with ten repositories as with ten thousand.
//!
//! Portieris' rule is kept exactly: an exact name beats every wildcard; among the rest the
//! most specific wins; ties go to the first in (object name, list position) order. The index
//! only narrows which patterns can match at all:
//! - exact patterns by host and path (a pattern with a tag sits beside the bare name);
//! - wildcards by host when the host has no `*` (else in one list for any host), then by the
//!   literal text of the path before its first `*`: `team/ap*` can only match a path that
//!   starts with `team/ap`, so an image looks up only the prefixes of its own path, one per
//!   distinct prefix length in the scope.
//!
//! Each list is sorted by rank, so a list's first match is its best, and a list is left as
//! soon as it ranks below the best match found so far.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Reverse;

use super::Candidate;
use super::pattern::{Pattern, Shape};
use crate::reference::ImageRef;

/// Positions into the scope's candidate list, grouped by what an image must have to match.
#[derive(Debug, Default)]
pub(super) struct Index {
    exact: BTreeMap<String, BTreeMap<String, Vec<usize>>>,
    by_host: BTreeMap<String, Prefixes>,
    any_host: Prefixes,
}

/// Wildcard positions by the literal prefix of their path.
#[derive(Debug, Default)]
struct Prefixes {
    lists: BTreeMap<String, Vec<usize>>,
    /// The distinct prefix lengths, so a lookup tries only those.
    lengths: Vec<usize>,
}

impl Prefixes {
    fn list(&mut self, prefix: &str) -> &mut Vec<usize> {
        self.lists.entry(prefix.into()).or_default()
    }

    /// Sorts each list by rank (stable: equal specificity keeps candidate order).
    fn finish(&mut self, specificity: &[usize]) {
        for list in self.lists.values_mut() {
            list.sort_by_key(|&i| Reverse(specificity.get(i).copied().unwrap_or(0)));
        }
        self.lengths = self.lists.keys().map(String::len).collect();
        self.lengths.sort_unstable();
        self.lengths.dedup();
    }

    /// The lists whose prefix starts `path`.
    fn lookup<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a [usize]> + 'a {
        self.lengths
            .iter()
            .map_while(move |&n| path.get(..n))
            .filter_map(|prefix| self.lists.get(prefix))
            .map(Vec::as_slice)
    }
}

impl Index {
    /// Indexes `patterns`, which are in candidate order.
    pub(super) fn new<'a>(patterns: impl Iterator<Item = &'a Pattern>) -> Self {
        let mut index = Self::default();
        let mut specificity = Vec::new();
        for (position, pattern) in patterns.enumerate() {
            specificity.push(pattern.specificity());
            let list = match pattern.shape() {
                Shape::Exact { host, path } => {
                    let paths = index.exact.entry(host.into()).or_default();
                    paths.entry(path.into()).or_default()
                }
                Shape::Wildcard {
                    host: Some(host),
                    prefix,
                } => index.by_host.entry(host.into()).or_default().list(prefix),
                Shape::Wildcard { host: None, prefix } => index.any_host.list(prefix),
            };
            list.push(position);
        }
        for prefixes in index.by_host.values_mut() {
            prefixes.finish(&specificity);
        }
        index.any_host.finish(&specificity);
        index
    }

    /// The candidate that governs `image`, if any matches. `candidates` is the list the index
    /// was built from.
    pub(super) fn best<'c>(
        &self,
        candidates: &'c [Candidate],
        image: &ImageRef,
    ) -> Option<&'c Candidate> {
        let pattern = |i: usize| candidates.get(i).map(|c| &c.pattern);
        let best = self
            .best_exact(pattern, image)
            .or_else(|| self.best_wildcard(pattern, image))?;
        candidates.get(best)
    }

    /// A tagged exact pattern is more specific than the bare name; ties keep the first.
    fn best_exact<'c>(
        &self,
        pattern: impl Fn(usize) -> Option<&'c Pattern>,
        image: &ImageRef,
    ) -> Option<usize> {
        let positions = self.exact.get(image.domain())?.get(image.path())?;
        let mut best: Option<(usize, usize)> = None;
        for &i in positions {
            let Some(candidate) = pattern(i) else {
                continue;
            };
            let rank = candidate.specificity();
            if best.is_none_or(|(_, top)| rank > top) && candidate.matches(image) {
                best = Some((i, rank));
            }
        }
        best.map(|(i, _)| i)
    }

    fn best_wildcard<'c>(
        &self,
        pattern: impl Fn(usize) -> Option<&'c Pattern>,
        image: &ImageRef,
    ) -> Option<usize> {
        let path = image.path();
        let lists = self
            .by_host
            .get(image.domain())
            .into_iter()
            .flat_map(|prefixes| prefixes.lookup(path))
            .chain(self.any_host.lookup(path));
        // Rank: higher specificity, then the earlier position.
        let mut best: Option<(usize, Reverse<usize>)> = None;
        for list in lists {
            for &i in list {
                let Some(candidate) = pattern(i) else {
                    continue;
                };
                let rank = (candidate.specificity(), Reverse(i));
                if best.is_some_and(|top| rank < top) {
                    break; // the rest of this list ranks lower still
                }
                if candidate.matches(image) {
                    best = Some(rank);
                    break;
                }
            }
        }
        best.map(|(_, Reverse(i))| i)
    }
}

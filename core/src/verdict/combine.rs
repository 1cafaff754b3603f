//! Per-site verdicts into one decision. An enforced deny denies the request. A deny under warn
//! mode admits its image as written (unmutated) and comes back as a warning: kubectl prints
//! it, and nothing changes for the workload. Allowed images are pinned as their policy says
//! even when another image only warned, as Kyverno and Gatekeeper apply mutations whatever
//! their validation mode: switching a policy from warn to enforce then changes nothing for the
//! images that pass.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Decision, Verdict, pin};
use crate::admission::patch::Replace;
use crate::admission::{ContainerSite, Request, original};
use crate::policy::{Enforcement, Mutation};
use crate::reason::{Class, Reason};
use crate::text::escape_controls;

pub use crate::limits::MAX_WARNING_CHARS;
pub use crate::limits::MAX_WARNINGS;

/// How the verdict on one image is carried out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handling {
    /// What a deny does.
    pub enforcement: Enforcement,
    /// The form an allowed, mutating image is pinned to.
    pub mutation: Mutation,
}

/// Verdicts seen so far.
#[derive(Debug, Default)]
pub(super) struct Combined {
    patch: Vec<Replace>,
    /// Rendered reason → its class; the same text twice is one reason of the greater class.
    reasons: BTreeMap<String, Class>,
    waived: BTreeMap<String, Class>,
    /// Rendered notes of admitted images (checks their policy only logs).
    notes: BTreeSet<String>,
    /// Pointer → image as written, for every tag-preserving rewrite.
    rewritten: BTreeMap<String, String>,
}

impl Combined {
    pub(super) fn add(&mut self, site: &ContainerSite, verdict: Verdict, handling: Handling) {
        if let Verdict::Allow { notes, .. } = &verdict {
            let image = escape_controls(&site.image);
            self.notes.extend(
                (notes.iter()).map(|note| format!("Note \"{image}\", {}", escape_controls(note))),
            );
        }
        match verdict {
            Verdict::Allow {
                digest: Some(digest),
                mutate: true,
                ..
            } => {
                let Some(op) = pin(site, &digest, handling.mutation) else {
                    return;
                };
                if handling.mutation == Mutation::TagAndDigest {
                    self.rewritten
                        .insert(site.pointer.clone(), site.image.clone());
                }
                self.patch.push(op);
            }
            Verdict::Allow { .. } => {}
            Verdict::Deny(why) => {
                let (verb, into) = match handling.enforcement {
                    Enforcement::Enforce => ("Deny", &mut self.reasons),
                    Enforcement::Warn => ("Warn", &mut self.waived),
                };
                // Images and reasons carry text from the request: one line each, always.
                let image = escape_controls(&site.image);
                for reason in why {
                    let line = format!("{verb} \"{image}\", {}", escape_controls(&reason.text));
                    let class = into.entry(line).or_insert(reason.class);
                    *class = reason.class.max(*class);
                }
            }
        }
    }

    /// The decision; with the request, the original-images annotation is kept up to date.
    /// Waived reasons are dropped when an enforced one denies anyway: the deny says what to
    /// fix first.
    pub(super) fn decide(self, request: Option<&Request>) -> Decision {
        if !self.reasons.is_empty() {
            return Decision::Deny {
                reasons: reasons(self.reasons),
            };
        }
        let annotate =
            request.and_then(|r| original::record(&r.original_images, &r.sites, self.rewritten));
        let waived = reasons(self.waived);
        let notes = self.notes.iter().map(String::as_str);
        let lines: Vec<&str> = waived
            .iter()
            .map(|r| r.text.as_str())
            .chain(notes)
            .collect();
        Decision::Allow {
            patch: self.patch,
            warnings: bounded(&lines),
            waived,
            annotate,
        }
    }
}

fn reasons(lines: BTreeMap<String, Class>) -> Vec<Reason> {
    lines
        .into_iter()
        .map(|(text, class)| Reason { text, class })
        .collect()
}

/// At most [`MAX_WARNINGS`] lines of at most [`MAX_WARNING_CHARS`] characters, then one line
/// counting the rest. Control characters become spaces: a warning is one line of text.
fn bounded(lines: &[&str]) -> Vec<String> {
    let total = lines.len();
    let mut warnings: Vec<String> = lines
        .iter()
        .take(MAX_WARNINGS)
        .map(|line| one_line(line))
        .collect();
    if total > MAX_WARNINGS {
        warnings.push(format!(
            "and {} more warnings; the portieris log has them all",
            total - MAX_WARNINGS
        ));
    }
    warnings
}

fn one_line(text: &str) -> String {
    let clean = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    if text.chars().count() <= MAX_WARNING_CHARS {
        return clean.collect();
    }
    let mut cut: String = clean.take(MAX_WARNING_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests;

//! Choosing the target as Docker does (the `targets/releases` subtree, else `targets`), and
//! checking pinned signers as Portieris does, fetching delegation roles as they are needed.

use alloc::boxed::Box;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;

use super::chain::{Chain, check_file, verifiers};
use super::error::NotaryError;
use super::keytype::{key_id, pinned_key};
use super::metadata::{
    Delegation, Envelope, FileMeta, Keys, MetaRole, RoleKeys, Targets, too_many,
};
use super::roles::{covers, is_delegation, restrict_paths};
use super::signature::verify_threshold;
use super::{Metadata, Signer, TargetRef, Trusted, Verified};
use crate::limits;
use crate::reference::Digest;
use crate::time::UnixTime;

const RELEASES: &str = "targets/releases";

/// A pinned signer, checked before anything is fetched.
pub(super) struct Pin<'s> {
    name: &'s str,
    role: String,
    key_id: String,
}

impl<'s> Pin<'s> {
    pub(super) fn parse(signer: &'s Signer, now: UnixTime) -> Result<Self, NotaryError> {
        let name = signer.name.as_str();
        let role = alloc::format!("targets/{name}");
        if name.contains('/') || !is_delegation(&role) {
            return Err(NotaryError::InvalidSignerName {
                signer: name.into(),
            });
        }
        let problem = |problem| NotaryError::SignerKey {
            signer: name.into(),
            problem,
        };
        let (keytype, public, parsed) = pinned_key(&signer.public_key_pem).map_err(problem)?;
        // Portieris parses the pinned PEM with notary's `ParsePEMPublicKey`, which refuses a
        // certificate outside its validity window.
        if let Some(cert) = &parsed.cert {
            cert.validate(Some(now)).map_err(problem)?;
        }
        Ok(Self {
            name,
            role,
            key_id: key_id(keytype.as_str(), &public),
        })
    }
}

/// What is looked for: a tag (a target name) or a digest (any target with that sha256).
pub(super) enum Wanted {
    Tag(String),
    Digest(Digest),
}

impl From<&TargetRef> for Wanted {
    fn from(target: &TargetRef) -> Self {
        match target {
            TargetRef::Tag(tag) => Self::Tag(tag.clone()),
            TargetRef::Digest(digest) => Self::Digest(digest.clone()),
        }
    }
}

impl Wanted {
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Tag(tag) => alloc::format!("tag {tag}"),
            Self::Digest(digest) => alloc::format!("digest {digest}"),
        }
    }

    /// Whether a role with these paths is walked at all (notary's `isValidPath`).
    fn walks(&self, paths: &[String]) -> bool {
        match self {
            Self::Tag(tag) => covers(paths, tag),
            Self::Digest(_) => true,
        }
    }

    /// The matching target of a role whose (restricted) paths are `paths`.
    fn find(
        &self,
        role: &str,
        paths: &[String],
        targets: &Targets,
    ) -> Result<Option<Found>, NotaryError> {
        match self {
            Self::Tag(tag) => {
                let Some(meta) = targets.targets.get(tag).filter(|_| covers(paths, tag)) else {
                    return Ok(None);
                };
                let digest = target_digest(meta).ok_or_else(|| NotaryError::NoDigest {
                    role: role.into(),
                    target: tag.clone(),
                })?;
                Ok(Some(Found::new(role, meta, digest)))
            }
            Self::Digest(digest) => Ok(targets
                .targets
                .iter()
                .find(|(name, meta)| {
                    covers(paths, name) && target_digest(meta).as_ref() == Some(digest)
                })
                .map(|(_, meta)| Found::new(role, meta, digest.clone()))),
        }
    }
}

fn target_digest(meta: &FileMeta) -> Option<Digest> {
    let hash: &[u8; 32] = meta.hashes.get("sha256")?.as_slice().try_into().ok()?;
    Some(Digest::from_sha256(hash))
}

/// The signed target chosen.
pub(super) struct Found {
    role: String,
    digest: Digest,
    length: u64,
}

impl Found {
    fn new(role: &str, meta: &FileMeta, digest: Digest) -> Self {
        Self {
            role: role.into(),
            digest,
            length: meta.length.unwrap_or(0),
        }
    }
}

pub(super) enum SignerRoles<'p> {
    Need(Vec<String>),
    Loaded(Vec<(&'p Pin<'p>, Delegated, Box<Loaded>)>),
}

/// Every pinned signer's role is signed by the pinned key and signs the release's digest
/// (for a digest reference: signs that digest under any name).
pub(super) fn check_signers(
    loaded: &[(&Pin<'_>, Delegated, Box<Loaded>)],
    wanted: &Wanted,
    release: &Found,
) -> Result<Vec<String>, NotaryError> {
    let mut roles = Vec::new();
    for (pin, delegated, role) in loaded {
        if !role.signers.contains(&pin.key_id) {
            return Err(NotaryError::SignerKeyDidNotSign {
                signer: pin.name.into(),
                key_id: pin.key_id.clone(),
            });
        }
        let signed = wanted
            .find(&pin.role, &delegated.paths, &role.targets)?
            .ok_or_else(|| NotaryError::SignerDidNotSign {
                signer: pin.name.into(),
                target: wanted.describe(),
            })?;
        if signed.digest != release.digest {
            return Err(NotaryError::SignerDigestMismatch {
                signer: pin.name.into(),
                target: wanted.describe(),
                release: release.digest.clone(),
                signed: signed.digest,
            });
        }
        roles.push(pin.role.clone());
    }
    Ok(roles)
}

pub(super) enum Search {
    /// These roles must be fetched before the search can conclude.
    Need(Vec<String>),
    Found(Option<Found>),
}

/// A delegation as its parent grants it: keys, threshold and (restricted) paths.
pub(super) struct Delegated {
    name: String,
    keys: Keys,
    role_keys: RoleKeys,
    paths: Vec<String>,
}

enum Load {
    /// Not in [`Metadata::delegations`] yet.
    Unfetched,
    /// Not in the snapshot (notary skips it) or the server answered 404.
    Absent,
    Valid(Box<Loaded>),
}

pub(super) struct Loaded {
    targets: Targets,
    /// Keys with a valid signature on the role.
    signers: BTreeSet<String>,
}

pub(super) struct Walk<'a> {
    metadata: &'a Metadata,
    snapshot: &'a MetaRole,
    chain: Chain<'a>,
}

impl<'a> Walk<'a> {
    pub(super) fn new(metadata: &'a Metadata, snapshot: &'a MetaRole, chain: Chain<'a>) -> Self {
        Self {
            metadata,
            snapshot,
            chain,
        }
    }

    /// Docker's choice: the target from the `targets/releases` subtree (breadth first, first
    /// match wins) if there is one, else from `targets` itself.
    pub(super) fn release(
        &mut self,
        targets: &Targets,
        wanted: &Wanted,
    ) -> Result<Search, NotaryError> {
        let mut queue: VecDeque<Delegated> =
            top_delegation(targets, RELEASES).into_iter().collect();
        let mut needs = Vec::new();
        let mut walked = 0;
        while let Some(delegated) = queue.pop_front() {
            walked += 1;
            if !wanted.walks(&delegated.paths) {
                continue;
            }
            match self.load(&delegated)? {
                Load::Unfetched => needs.push(delegated.name),
                Load::Absent => {}
                // Until every role before it is known, a later role cannot decide.
                Load::Valid(_) if !needs.is_empty() => {}
                Load::Valid(loaded) => {
                    if let Some(found) =
                        wanted.find(&delegated.name, &delegated.paths, &loaded.targets)?
                    {
                        return Ok(Search::Found(Some(found)));
                    }
                    queue.extend(children(&delegated.paths, &loaded.targets));
                    // Bounds both the walk and the queue's memory.
                    if walked + queue.len() > limits::MAX_ROLES_WALKED {
                        return Err(too_many(
                            RELEASES,
                            "delegation roles",
                            limits::MAX_ROLES_WALKED,
                        ));
                    }
                }
            }
        }
        if !needs.is_empty() {
            return Ok(Search::Need(needs));
        }
        wanted
            .find("targets", &[String::new()], targets)
            .map(Search::Found)
    }

    /// Each signer's role, or the ones still to fetch.
    pub(super) fn signers<'p>(
        &mut self,
        targets: &Targets,
        pins: &'p [Pin<'p>],
    ) -> Result<SignerRoles<'p>, NotaryError> {
        let mut needs = Vec::new();
        let mut loaded = Vec::new();
        for pin in pins {
            let delegated = signer_delegation(targets, pin)?;
            match self.load(&delegated)? {
                Load::Unfetched => needs.push(delegated.name),
                Load::Absent => {
                    return Err(NotaryError::SignerRoleMissing {
                        signer: pin.name.into(),
                    });
                }
                Load::Valid(role) => loaded.push((pin, delegated, role)),
            }
        }
        Ok(if needs.is_empty() {
            SignerRoles::Loaded(loaded)
        } else {
            SignerRoles::Need(needs)
        })
    }

    /// Fetch state and, once served, validity of a delegated role: hash and length from the
    /// snapshot, a threshold of the keys its parent delegates, no rollback, not expired.
    fn load(&mut self, delegated: &Delegated) -> Result<Load, NotaryError> {
        let name = delegated.name.as_str();
        let Some(meta) = self.snapshot.meta.get(name) else {
            return Ok(Load::Absent);
        };
        let bytes = match self.metadata.delegations.get(name) {
            None => return Ok(Load::Unfetched),
            Some(None) => return Ok(Load::Absent),
            Some(Some(bytes)) => bytes,
        };
        check_file(name, bytes, Some(meta), "snapshot")?;
        let envelope = Envelope::parse(name, bytes)?;
        let signers = verify_threshold(
            &envelope,
            &verifiers(&delegated.keys, &delegated.role_keys),
            delegated.role_keys.threshold,
        )?;
        let targets = envelope.targets()?;
        self.chain.admit(name, targets.common)?;
        Ok(Load::Valid(Box::new(Loaded { targets, signers })))
    }

    /// The verified target and the new trusted state.
    pub(super) fn finish(
        self,
        gun: &str,
        metadata: &Metadata,
        found: Found,
        signers: Vec<String>,
    ) -> Verified {
        let mut versions = self
            .chain
            .trusted
            .map(|t| t.versions.clone())
            .unwrap_or_default();
        versions.extend(self.chain.versions);
        let mut roles = alloc::vec![found.role];
        roles.extend(signers);
        Verified {
            digest: found.digest,
            length: found.length,
            roles,
            expires: self.chain.expires,
            trusted: Trusted {
                gun: gun.to_string(),
                root: metadata.root.clone(),
                versions,
            },
        }
    }
}

/// The delegations of a role, with their paths restricted to the parent's.
fn children<'t>(
    parent_paths: &'t [String],
    targets: &'t Targets,
) -> impl Iterator<Item = Delegated> + 't {
    targets
        .delegations
        .iter()
        .map(move |delegation| delegated(parent_paths, targets, delegation))
}

/// One delegation of `targets`, with only the keys it lists.
fn delegated(parent_paths: &[String], targets: &Targets, delegation: &Delegation) -> Delegated {
    let keys = delegation
        .keys
        .key_ids
        .iter()
        .filter_map(|id| Some((id.clone(), targets.keys.get(id)?.clone())))
        .collect();
    Delegated {
        name: delegation.name.clone(),
        keys,
        role_keys: delegation.keys.clone(),
        paths: restrict_paths(parent_paths, &delegation.paths),
    }
}

/// The delegation named `name` in the top-level `targets`.
fn top_delegation(targets: &Targets, name: &str) -> Option<Delegated> {
    let top = [String::new()];
    let delegation = targets.delegations.iter().find(|d| d.name == name)?;
    Some(delegated(&top, targets, delegation))
}

/// `targets/<signer>` as `targets.json` delegates it, listing the pinned key.
fn signer_delegation(targets: &Targets, pin: &Pin<'_>) -> Result<Delegated, NotaryError> {
    let delegated =
        top_delegation(targets, &pin.role).ok_or_else(|| NotaryError::SignerNotDelegated {
            signer: pin.name.into(),
        })?;
    if !delegated.role_keys.key_ids.contains(&pin.key_id) {
        return Err(NotaryError::SignerKeyNotListed {
            signer: pin.name.into(),
            key_id: pin.key_id.clone(),
        });
    }
    Ok(delegated)
}

//! The TUF chain in notary's order: root → timestamp → snapshot → targets; delegations and
//! the choice of target follow in `select`.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;

use super::chain::{Chain, check_file, verifiers};
use super::error::NotaryError;
use super::keytype::parse_key;
use super::metadata::{Envelope, MetaRole, RoleKeys, Root, Targets};
use super::select::{Pin, Search, SignerRoles, Walk, Wanted, check_signers};
use super::signature::{valid_signers, verify_threshold};
use super::{Metadata, Query, Step, Trusted};
use crate::crypto::keys::Verifier;
use crate::crypto::{KeyProblem, ParsedKey, pem};
use crate::time::UnixTime;

pub(super) fn verify(
    query: &Query<'_>,
    metadata: &Metadata,
    now: UnixTime,
    trusted: Option<&Trusted>,
) -> Result<Step, NotaryError> {
    if let Some(trusted) = trusted.filter(|t| t.gun != query.gun) {
        return Err(NotaryError::TrustedForOtherGun {
            trusted: trusted.gun.clone(),
            gun: query.gun.into(),
        });
    }
    let pins = query
        .signers
        .iter()
        .map(|signer| Pin::parse(signer, now))
        .collect::<Result<Vec<_>, _>>()?;
    let mut chain = Chain::new(now, trusted);
    let root = verify_root(query.gun, &metadata.root, &mut chain)?;
    let timestamp = verify_timestamp(&root, &metadata.timestamp, &mut chain)?;
    let snapshot = verify_snapshot(&root, &timestamp, metadata, &mut chain)?;
    let targets = verify_targets(&root, &snapshot, &metadata.targets, &mut chain)?;
    let mut walk = Walk::new(metadata, &snapshot, chain);
    let wanted = Wanted::from(query.target);
    let mut needs = match walk.release(&targets, &wanted)? {
        Search::Found(None) => {
            return Err(NotaryError::NotSigned {
                target: wanted.describe(),
            });
        }
        Search::Found(Some(found)) => match walk.signers(&targets, &pins)? {
            SignerRoles::Need(needs) => needs,
            SignerRoles::Loaded(loaded) => {
                let signers = check_signers(&loaded, &wanted, &found)?;
                return Ok(Step::Done(walk.finish(query.gun, metadata, found, signers)));
            }
        },
        Search::Need(mut needs) => {
            // Ask for the signers' roles in the same round.
            if let SignerRoles::Need(more) = walk.signers(&targets, &pins)? {
                needs.extend(more);
            }
            needs
        }
    };
    needs.sort_unstable();
    needs.dedup();
    Ok(Step::Fetch(needs))
}

pub(super) fn pinned_root(gun: &str, bytes: &[u8]) -> Result<Trusted, NotaryError> {
    let envelope = Envelope::parse("root", bytes)?;
    let root = envelope.root()?;
    let keys = root_keys(&root, gun, None)?;
    verify_threshold(&envelope, &keys, role(&root, "root")?.threshold)?;
    Ok(Trusted {
        gun: gun.into(),
        root: bytes.to_vec(),
        versions: BTreeMap::from([("root".to_string(), root.common.version)]),
    })
}

/// Root: self-signed by a threshold of its root keys, which must be leaf certificates for the
/// GUN valid at `now`; when a root is trusted, also signed by a threshold of the trusted root
/// keys (notary's `ValidateRoot`, without its trust pinning).
fn verify_root(gun: &str, bytes: &[u8], chain: &mut Chain<'_>) -> Result<Root, NotaryError> {
    let envelope = Envelope::parse("root", bytes)?;
    let root = envelope.root()?;
    if let Some(trusted) = chain.trusted {
        let old_envelope = Envelope::parse("root", &trusted.root)?;
        let old = old_envelope.root()?;
        // Notary does not check the expiry of certificates it already trusted.
        let old_keys = root_keys(&old, gun, None).unwrap_or_default();
        let threshold = role(&old, "root")?.threshold;
        let valid = valid_signers(&envelope, &old_keys).len();
        if u64::try_from(valid).unwrap_or(u64::MAX) < threshold {
            return Err(NotaryError::RootRotationNotTrusted { valid, threshold });
        }
    }
    let keys = root_keys(&root, gun, Some(chain.now))?;
    verify_threshold(&envelope, &keys, role(&root, "root")?.threshold)?;
    chain.admit("root", root.common)?;
    Ok(root)
}

/// The root role's usable keys; when none is usable, the problem with the first.
fn root_keys(
    root: &Root,
    gun: &str,
    now: Option<UnixTime>,
) -> Result<BTreeMap<String, Verifier>, NotaryError> {
    let mut usable = BTreeMap::new();
    let mut first_problem = None;
    for id in &role(root, "root")?.key_ids {
        let Some(key) = root.keys.get(id) else {
            continue;
        };
        match root_key(key, gun, now) {
            Ok(verifier) => {
                usable.insert(id.clone(), verifier);
            }
            Err(problem) => {
                first_problem.get_or_insert_with(|| match problem {
                    RootKeyProblem::Gun(common_name) => NotaryError::GunMismatch {
                        common_name,
                        gun: gun.into(),
                    },
                    RootKeyProblem::Key(problem) => NotaryError::RootKey {
                        key_id: id.clone(),
                        problem,
                    },
                });
            }
        }
    }
    match first_problem {
        Some(problem) if usable.is_empty() => Err(problem),
        _ => Ok(usable),
    }
}

enum RootKeyProblem {
    Gun(String),
    Key(KeyProblem),
}

/// A root key must be one certificate, written as Go writes it (so that the ID notary derives
/// from the certificate is the listed one), a leaf, for the GUN, and valid.
fn root_key(
    key: &super::metadata::Key,
    gun: &str,
    now: Option<UnixTime>,
) -> Result<Verifier, RootKeyProblem> {
    let problem = RootKeyProblem::Key;
    if !matches!(key.keytype.as_str(), "ecdsa-x509" | "rsa-x509") {
        return Err(problem(KeyProblem::NotCertificate));
    }
    let ParsedKey { verifier, cert } = parse_key(&key.keytype, &key.public).map_err(problem)?;
    let cert = cert.ok_or(problem(KeyProblem::NotCertificate))?;
    let canonical = core::str::from_utf8(&key.public)
        .ok()
        .and_then(pem::decode_first)
        .is_some_and(|block| pem::encode("CERTIFICATE", &block.der).as_bytes() == key.public);
    if !canonical {
        return Err(problem(KeyProblem::Pem));
    }
    if cert.is_ca {
        return Err(problem(KeyProblem::NotLeaf));
    }
    let common_name = cert.common_name.clone().unwrap_or_default();
    if common_name != gun {
        return Err(RootKeyProblem::Gun(common_name));
    }
    cert.validate(now).map_err(problem)?;
    Ok(verifier)
}

fn role<'r>(root: &'r Root, name: &str) -> Result<&'r RoleKeys, NotaryError> {
    // `Envelope::root` guarantees the four base roles; this only avoids indexing.
    root.roles.get(name).ok_or_else(|| NotaryError::Malformed {
        role: "root".into(),
        reason: alloc::format!("no {name} role"),
    })
}

fn verify_timestamp(
    root: &Root,
    bytes: &[u8],
    chain: &mut Chain<'_>,
) -> Result<MetaRole, NotaryError> {
    let envelope = Envelope::parse("timestamp", bytes)?;
    let role_keys = role(root, "timestamp")?;
    verify_threshold(
        &envelope,
        &verifiers(&root.keys, role_keys),
        role_keys.threshold,
    )?;
    let timestamp = envelope.meta_role("Timestamp")?;
    require_sha256(&timestamp, "timestamp", "snapshot")?;
    chain.admit("timestamp", timestamp.common)?;
    Ok(timestamp)
}

fn verify_snapshot(
    root: &Root,
    timestamp: &MetaRole,
    metadata: &Metadata,
    chain: &mut Chain<'_>,
) -> Result<MetaRole, NotaryError> {
    let bytes = &metadata.snapshot;
    check_file(
        "snapshot",
        bytes,
        timestamp.meta.get("snapshot"),
        "timestamp",
    )?;
    let envelope = Envelope::parse("snapshot", bytes)?;
    let role_keys = role(root, "snapshot")?;
    verify_threshold(
        &envelope,
        &verifiers(&root.keys, role_keys),
        role_keys.threshold,
    )?;
    let snapshot = envelope.meta_role("Snapshot")?;
    require_sha256(&snapshot, "snapshot", "root")?;
    require_sha256(&snapshot, "snapshot", "targets")?;
    chain.admit("snapshot", snapshot.common)?;
    // The root just verified must be the one the snapshot covers.
    check_file(
        "root",
        &metadata.root,
        snapshot.meta.get("root"),
        "snapshot",
    )?;
    Ok(snapshot)
}

fn verify_targets(
    root: &Root,
    snapshot: &MetaRole,
    bytes: &[u8],
    chain: &mut Chain<'_>,
) -> Result<Targets, NotaryError> {
    check_file("targets", bytes, snapshot.meta.get("targets"), "snapshot")?;
    let envelope = Envelope::parse("targets", bytes)?;
    let role_keys = role(root, "targets")?;
    verify_threshold(
        &envelope,
        &verifiers(&root.keys, role_keys),
        role_keys.threshold,
    )?;
    let targets = envelope.targets()?;
    chain.admit("targets", targets.common)?;
    Ok(targets)
}

/// Notary's structural rule: the referring role must carry a sha256 for `role`.
fn require_sha256(meta: &MetaRole, referrer: &'static str, role: &str) -> Result<(), NotaryError> {
    let has = meta
        .meta
        .get(role)
        .and_then(|file| file.hashes.get("sha256"))
        .is_some_and(|hash| hash.len() == 32);
    if has {
        Ok(())
    } else {
        Err(NotaryError::MissingMeta {
            referrer,
            role: role.into(),
        })
    }
}

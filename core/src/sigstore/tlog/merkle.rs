//! RFC 9162 (RFC 6962) Merkle inclusion proofs with SHA-256: leaf hash `SHA-256(0x00 ‖ leaf)`,
//! node hash `SHA-256(0x01 ‖ left ‖ right)`. Written by hand: it is the RFC's ten-line
//! algorithm (§2.1.3.2), and the crates that have it bring a tree and std along.

use core::fmt;

use sha2::{Digest as _, Sha256};

use crate::sigstore::bundle::InclusionProof;

/// Why an inclusion proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    IndexOutOfRange { index: u64, size: u64 },
    /// The path is longer or shorter than the tree's shape requires.
    PathLength,
    /// The path leads to another root than the proof's root hash.
    RootMismatch,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index, size } => {
                write!(f, "leaf {index} is not in a tree of {size}")
            }
            Self::PathLength => f.write_str("the audit path does not fit the tree's size"),
            Self::RootMismatch => {
                f.write_str("the audit path does not lead to the proof's root hash")
            }
        }
    }
}

impl core::error::Error for ProofError {}

/// Checks that `leaf` (the entry's body) is at `proof.log_index` in the tree of
/// `proof.tree_size` whose root is `proof.root_hash`.
pub(super) fn verify(proof: &InclusionProof, leaf: &[u8]) -> Result<(), ProofError> {
    let root = root_from_path(
        proof.log_index,
        proof.tree_size,
        leaf_hash(leaf),
        &proof.hashes,
    )?;
    if root != proof.root_hash {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

pub(super) fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    Sha256::new_with_prefix([0x00])
        .chain_update(leaf)
        .finalize()
        .into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new_with_prefix([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// RFC 9162 §2.1.3.2, step by step.
fn root_from_path(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    path: &[[u8; 32]],
) -> Result<[u8; 32], ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut root = leaf;
    for sibling in path {
        if sn == 0 {
            return Err(ProofError::PathLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            root = node_hash(sibling, &root);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            root = node_hash(&root, sibling);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::PathLength);
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The RFC 6962 tree hash of `leaves`, computed the slow way, as the oracle.
    fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
        if let [leaf] = leaves {
            return *leaf;
        }
        let split = leaves.len().next_power_of_two() / 2;
        let (left, right) = leaves.split_at(split);
        node_hash(&tree_hash(left), &tree_hash(right))
    }

    /// The audit path of leaf `index` (RFC 6962 §2.1.1 `PATH`).
    fn path(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
        if leaves.len() <= 1 {
            return Vec::new();
        }
        let split = leaves.len().next_power_of_two() / 2;
        let (left, right) = leaves.split_at(split);
        let (mut path, sibling) = if index < split {
            (path(index, left), tree_hash(right))
        } else {
            (path(index - split, right), tree_hash(left))
        };
        path.push(sibling);
        path
    }

    fn leaves(count: u8) -> Vec<[u8; 32]> {
        (0..count).map(|i| leaf_hash(&[i])).collect()
    }

    #[test]
    fn every_leaf_of_trees_up_to_33_proves_to_the_root() {
        for size in 1..=33u8 {
            let leaves = leaves(size);
            let root = tree_hash(&leaves);
            for (index, leaf) in leaves.iter().enumerate() {
                let proof = path(index, &leaves);
                let computed = root_from_path(index as u64, u64::from(size), *leaf, &proof);
                assert_eq!(computed, Ok(root), "leaf {index} of {size}");
            }
        }
    }

    #[test]
    fn a_flipped_bit_in_any_path_hash_changes_the_root() {
        let leaves = leaves(13);
        let root = tree_hash(&leaves);
        let proof = path(6, &leaves);
        for at in 0..proof.len() {
            let mut bad = proof.clone();
            bad[at][0] ^= 1;
            assert_ne!(root_from_path(6, 13, leaves[6], &bad), Ok(root));
        }
    }

    #[test]
    fn a_path_of_the_wrong_length_or_index_is_refused() {
        let leaves = leaves(8);
        let mut proof = path(3, &leaves);
        assert_eq!(
            root_from_path(8, 8, leaves[3], &proof),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
        proof.push([0; 32]);
        assert_eq!(
            root_from_path(3, 8, leaves[3], &proof),
            Err(ProofError::PathLength)
        );
        proof.truncate(2);
        assert_eq!(
            root_from_path(3, 8, leaves[3], &proof),
            Err(ProofError::PathLength)
        );
    }

    #[test]
    fn the_same_path_for_another_index_does_not_prove() {
        let leaves = leaves(8);
        let root = tree_hash(&leaves);
        let proof = path(3, &leaves);
        assert_ne!(root_from_path(2, 8, leaves[3], &proof), Ok(root));
    }
}

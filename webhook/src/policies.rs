//! The current policy snapshot, shared by every request and swapped whole on change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use portieris_core::PolicySet;

/// Holds the [`PolicySet`] in force. Readers take an `Arc` and never block writers for long.
#[derive(Debug, Default)]
pub struct PolicyStore {
    current: RwLock<Arc<PolicySet>>,
    ready: AtomicBool,
}

impl PolicyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The snapshot in force (empty, which denies everything, until the first load).
    pub fn current(&self) -> Arc<PolicySet> {
        // A poisoned lock still holds a whole snapshot: swaps are a single assignment.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a new snapshot in force and marks the store ready.
    pub fn replace(&self, set: PolicySet) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        self.ready.store(true, Ordering::Release);
    }

    /// Whether a first snapshot has been loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

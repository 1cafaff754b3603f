//! A process-wide budget of bytes being read, shared by every fetch (responses from registries
//! and trust servers) or by every admission request body, and the buffer that charges it.
//!
//! A [`Buffer`] takes budget as its bytes arrive, for the capacity it allocates (not only the
//! length), and gives it all back when dropped. It never waits for budget: when the budget is
//! spent, [`Buffer::push`] fails at once. Waiting would let buffers that already hold part of
//! the budget wait for one another (each holding, none finishing) until their deadlines; and a
//! reader that stops reading leaves its peer's bytes piling up in flow-control windows and
//! socket buffers, memory the budget does not see. Failing drops the stream and frees both.
//! Budgets are sized far above what normal traffic reads at once (tens of MiB against
//! responses and reviews of a few KiB), so only bulk, near-limit bodies reach them.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

/// Why a buffer refused a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Overflow {
    /// The chunk would take the buffer past its own limit.
    #[error("larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The budget shared with every other buffer is spent.
    #[error("more than {total} bytes are being read at once")]
    Exhausted { total: usize },
}

/// Bytes that may be held by buffers at once, process-wide.
#[derive(Debug)]
pub struct ByteBudget {
    permits: Semaphore,
    total: usize,
    /// High-water mark of bytes held, for tests and benchmarks.
    peak: AtomicUsize,
}

impl ByteBudget {
    pub fn new(total: usize) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        Self {
            permits: Semaphore::new(total),
            total,
            peak: AtomicUsize::new(0),
        }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes held by buffers now.
    pub fn in_use(&self) -> usize {
        self.total.saturating_sub(self.permits.available_permits())
    }

    /// The most bytes ever held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Takes `bytes` now, or not at all.
    fn take(&self, bytes: usize) -> Result<(), Overflow> {
        let exhausted = Overflow::Exhausted { total: self.total };
        let n = u32::try_from(bytes).map_err(|_| exhausted)?;
        self.permits
            .try_acquire_many(n)
            .map_err(|_| exhausted)?
            .forget();
        self.peak.fetch_max(self.in_use(), Ordering::Relaxed);
        Ok(())
    }

    fn give_back(&self, bytes: usize) {
        if bytes > 0 {
            self.permits.add_permits(bytes);
        }
    }
}

/// Bytes read so far, at most `limit`, their capacity charged to a [`ByteBudget`] until the
/// buffer is dropped or [`Buffer::into_bytes`] returns them.
#[derive(Debug)]
pub struct Buffer<'a> {
    budget: &'a ByteBudget,
    limit: usize,
    /// Budget taken: always at least `bytes.capacity()`.
    held: usize,
    bytes: Vec<u8>,
}

impl<'a> Buffer<'a> {
    pub fn new(budget: &'a ByteBudget, limit: usize) -> Self {
        Self {
            budget,
            limit,
            held: 0,
            bytes: Vec::new(),
        }
    }

    /// Appends `chunk`, growing the capacity (doubling, up to the limit) with budget taken
    /// first. On an error nothing is appended; the buffer keeps what it holds until dropped.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Overflow> {
        let needed = self.bytes.len().saturating_add(chunk.len());
        if needed > self.limit {
            return Err(Overflow::TooLarge { limit: self.limit });
        }
        if needed > self.bytes.capacity() {
            let want = needed
                .max(self.bytes.capacity().saturating_mul(2))
                .min(self.limit);
            if want > self.held {
                self.budget.take(want - self.held)?;
                self.held = want;
            }
            self.bytes.reserve_exact(want - self.bytes.len());
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes read; their budget is given back.
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_share_the_budget_and_give_it_back_when_dropped() {
        let budget = ByteBudget::new(1000);
        let mut a = Buffer::new(&budget, 800);
        let mut b = Buffer::new(&budget, 800);
        a.push(&[1; 600]).expect("within the budget");
        assert_eq!(
            b.push(&[2; 600]),
            Err(Overflow::Exhausted { total: 1000 }),
            "600 + 600 bytes cannot be held at once under 1000"
        );
        assert!(budget.in_use() <= 1000);
        assert_eq!(a.into_bytes(), vec![1; 600]);
        assert_eq!(budget.in_use(), 0, "returned with the bytes");
        b.push(&[2; 600]).expect("room again");
        drop(b);
        assert_eq!(budget.in_use(), 0);
        assert!(budget.peak() <= 1000, "peak {}", budget.peak());
    }

    #[test]
    fn a_buffer_stops_at_its_limit_and_charges_its_capacity() {
        let budget = ByteBudget::new(1 << 20);
        let mut buffer = Buffer::new(&budget, 100);
        for _ in 0..10 {
            buffer.push(&[0; 10]).expect("up to the limit");
        }
        assert_eq!(buffer.push(&[0]), Err(Overflow::TooLarge { limit: 100 }));
        assert_eq!(buffer.as_slice().len(), 100);
        assert!(budget.in_use() >= buffer.bytes.capacity());
        assert!(budget.in_use() <= 100, "never more than the limit");
    }

    #[test]
    fn a_chunk_larger_than_the_whole_budget_is_refused() {
        let budget = ByteBudget::new(64);
        let mut buffer = Buffer::new(&budget, 1024);
        assert_eq!(
            buffer.push(&[0; 65]),
            Err(Overflow::Exhausted { total: 64 })
        );
        assert_eq!(budget.in_use(), 0);
    }
}

//! Timestamps.

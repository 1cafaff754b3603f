//! What a load run measured, as text for people and one JSON object for scripts.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Latencies in microseconds, from 1 µs to 60 s at three significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

/// One worker's (or the whole run's) tally.
pub struct Tally {
    pub latency: Histogram<u64>,
    /// Answers that were not a 200 with the expected body, by status (0: no answer at all).
    pub errors: BTreeMap<u16, u64>,
    /// Open loop: how late the pacer released each request (part of its latency).
    pub late: Histogram<u64>,
}

impl Tally {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency: histogram()?,
            errors: BTreeMap::new(),
            late: histogram()?,
        })
    }

    pub fn record(&mut self, elapsed: Duration, status: Option<u16>) {
        saturating_record(&mut self.latency, elapsed);
        if status != Some(200) {
            *self.errors.entry(status.unwrap_or(0)).or_default() += 1;
        }
    }

    pub fn record_late(&mut self, late: Duration) {
        saturating_record(&mut self.late, late);
    }

    pub fn merge(&mut self, other: &Self) -> anyhow::Result<()> {
        self.latency.add(&other.latency)?;
        self.late.add(&other.late)?;
        for (status, n) in &other.errors {
            *self.errors.entry(*status).or_default() += n;
        }
        Ok(())
    }

    /// The run's figures; `elapsed` is the measured window.
    pub fn summary(&self, elapsed: Duration, setting: Value) -> Value {
        let q = |quantile: f64| self.latency.value_at_quantile(quantile);
        let requests = self.latency.len();
        let errors: u64 = self.errors.values().sum();
        let late = |quantile: f64| self.late.value_at_quantile(quantile);
        let pacer = (!self.late.is_empty())
            .then(|| json!({"p50": late(0.5), "p99": late(0.99), "max": self.late.max()}));
        json!({
            "setting": setting,
            "seconds": elapsed.as_secs_f64(),
            "requests": requests,
            "errors": errors,
            "errors_by_status": self.errors,
            "throughput_rps": requests as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            "latency_us": {
                "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
                "max": self.latency.max(), "mean": self.latency.mean(),
            },
            "pacer_late_us": pacer,
        })
    }
}

/// Outside the bounds only past a minute: clamp rather than lose the sample.
fn saturating_record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.max(1));
}

/// One line of text from [`Tally::summary`].
pub fn text(summary: &Value) -> String {
    let ms = |key: &str| summary["latency_us"][key].as_f64().unwrap_or(0.0) / 1000.0;
    format!(
        "{} requests in {:.1} s: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms, {} errors {}",
        summary["requests"],
        summary["seconds"].as_f64().unwrap_or(0.0),
        summary["throughput_rps"].as_f64().unwrap_or(0.0),
        ms("p50"),
        ms("p99"),
        ms("p999"),
        ms("max"),
        summary["errors"],
        summary["errors_by_status"],
    )
}

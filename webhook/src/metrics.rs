//! Prometheus metrics. The decision counters keep IBM Portieris' names and help texts, which
//! existing dashboards and alerts use; that is why this is the `prometheus` crate, which does
//! not append `_total` to counters.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounter, Opts, Registry};

use crate::admit::Outcome;

/// Content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// From a cached policy lookup (about a millisecond) to a slow registry near the API server's
/// 10 s webhook deadline.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The webhook's metrics, in a registry of their own rather than the process-global one.
pub struct Metrics {
    registry: Registry,
    allow: IntCounter,
    deny: IntCounter,
    duration: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let allow = decision_counter(&registry, "allow", "Allow")?;
        let deny = decision_counter(&registry, "deny", "Deny")?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "portieris_admission_request_duration_seconds",
                "Time to answer an admission request, by outcome",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["outcome"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        // Every series exists from the start, so rates over them are defined before the first
        // request of each kind.
        for outcome in [Outcome::Allow, Outcome::Deny, Outcome::Invalid] {
            duration.with_label_values(&[label(outcome)]);
        }
        Ok(Self {
            registry,
            allow,
            deny,
            duration,
        })
    }

    /// Records one answered `/admit` request. A refused request counts as a deny: a deny is
    /// what the API server received.
    pub fn observe(&self, outcome: Outcome, elapsed: Duration) {
        match outcome {
            Outcome::Allow => self.allow.inc(),
            Outcome::Deny | Outcome::Invalid => self.deny.inc(),
        }
        self.duration
            .with_label_values(&[label(outcome)])
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        prometheus::TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

/// `portieris_pod_admission_decision_<name>_count`, as IBM Portieris names it.
fn decision_counter(
    registry: &Registry,
    name: &str,
    outcome: &str,
) -> Result<IntCounter, prometheus::Error> {
    let counter = IntCounter::with_opts(Opts::new(
        format!("portieris_pod_admission_decision_{name}_count"),
        format!("Portieris count of decision outcomes of {outcome}"),
    ))?;
    registry.register(Box::new(counter.clone()))?;
    Ok(counter)
}

fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::Invalid => "invalid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(outcomes: &[Outcome]) -> String {
        let metrics = Metrics::new().expect("metrics register");
        for outcome in outcomes {
            metrics.observe(*outcome, Duration::from_millis(3));
        }
        metrics.render().expect("metrics render")
    }

    #[test]
    fn decision_counters_keep_portieris_names_and_help() {
        let text = rendered(&[Outcome::Allow, Outcome::Deny, Outcome::Invalid]);
        for line in [
            "# HELP portieris_pod_admission_decision_allow_count Portieris count of decision outcomes of Allow",
            "# TYPE portieris_pod_admission_decision_allow_count counter",
            "portieris_pod_admission_decision_allow_count 1",
            "# HELP portieris_pod_admission_decision_deny_count Portieris count of decision outcomes of Deny",
            "# TYPE portieris_pod_admission_decision_deny_count counter",
            "portieris_pod_admission_decision_deny_count 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn durations_are_bucketed_by_outcome() {
        let text = rendered(&[Outcome::Invalid]);
        for line in [
            "# TYPE portieris_admission_request_duration_seconds histogram",
            r#"portieris_admission_request_duration_seconds_bucket{outcome="invalid",le="0.001"} 0"#,
            r#"portieris_admission_request_duration_seconds_bucket{outcome="invalid",le="0.005"} 1"#,
            r#"portieris_admission_request_duration_seconds_bucket{outcome="invalid",le="10"} 1"#,
            r#"portieris_admission_request_duration_seconds_count{outcome="invalid"} 1"#,
            r#"portieris_admission_request_duration_seconds_count{outcome="allow"} 0"#,
            r#"portieris_admission_request_duration_seconds_count{outcome="deny"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn counters_start_at_zero() {
        let text = rendered(&[]);
        assert!(text.contains("portieris_pod_admission_decision_allow_count 0\n"));
        assert!(text.contains("portieris_pod_admission_decision_deny_count 0\n"));
    }
}

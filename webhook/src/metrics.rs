//! Prometheus metrics. The decision counters keep IBM Portieris' names and help texts, which
//! existing dashboards and alerts use; that is why this is the `prometheus` crate, which does
//! not append `_total` to counters.

use std::time::Duration;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use portieris_core::reason::Class;

use crate::admit::Outcome;
use crate::fetch::cache;

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
    /// `portieris_admission_decisions_total{decision, mode, reason}`: what the policies
    /// decided, whether a deny was enforced or only warned of, and what it was chiefly about
    /// (`none` for an allow; `refused`, `unverifiable`, `policy`; `invalid` for a request that
    /// could not be read). A family of its own, so that Portieris'
    /// two counters keep counting exactly what the API server was told (a request admitted in
    /// warn mode is an allow there) and existing dashboards and alerts mean what they meant.
    decisions: IntCounterVec,
    duration: HistogramVec,
    /// `portieris_cache_requests_total{cache, result}`, brought up to date from the named
    /// caches' counts at each scrape.
    cache: IntCounterVec,
    /// `portieris_cache_bytes{cache}`: what the weighed caches hold by their weigh functions
    /// (every named cache is weighed), set at each scrape.
    cache_bytes: IntGaugeVec,
    /// `portieris_sigstore_root_refresh_total{result}`: refreshes of the default Sigstore
    /// trusted root from TUF (`ok`, `error`), brought up to date at each scrape.
    root_refresh: IntCounterVec,
    /// `portieris_sigstore_root_last_refresh_timestamp_seconds`: when a refresh last
    /// installed a root (0: never, the compiled-in snapshot is in force).
    root_refreshed: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let allow = decision_counter(&registry, "allow", "Allow")?;
        let deny = decision_counter(&registry, "deny", "Deny")?;
        let decisions = IntCounterVec::new(
            Opts::new(
                "portieris_admission_decisions_total",
                "Admission decisions by what the policies decided (allow, deny), whether a deny was enforced (mode enforce) or only warned of (mode warn), and why (reason: none, refused by the evidence, unverifiable for want of it, a broken policy, an invalid request)",
            ),
            &["decision", "mode", "reason"],
        )?;
        registry.register(Box::new(decisions.clone()))?;
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
        for outcome in OUTCOMES {
            duration.with_label_values(&[label(outcome)]);
            decisions.with_label_values(&decision_labels(outcome));
        }
        let cache = IntCounterVec::new(
            Opts::new(
                "portieris_cache_requests_total",
                "Cache lookups by cache and result (hit, miss)",
            ),
            &["cache", "result"],
        )?;
        registry.register(Box::new(cache.clone()))?;
        let cache_bytes = IntGaugeVec::new(
            Opts::new(
                "portieris_cache_bytes",
                "Bytes held by each cache, by its estimate of its values' buffers (keys and bookkeeping not counted)",
            ),
            &["cache"],
        )?;
        registry.register(Box::new(cache_bytes.clone()))?;
        let root_refresh = IntCounterVec::new(
            Opts::new(
                "portieris_sigstore_root_refresh_total",
                "Refreshes of the default Sigstore trusted root from its TUF repository, by result (ok: installed; error: the last good root stayed)",
            ),
            &["result"],
        )?;
        registry.register(Box::new(root_refresh.clone()))?;
        for result in ["ok", "error"] {
            root_refresh.with_label_values(&[result]);
        }
        let root_refreshed = IntGauge::with_opts(Opts::new(
            "portieris_sigstore_root_last_refresh_timestamp_seconds",
            "Unix time a TUF refresh last installed the default Sigstore trusted root (0: never; the snapshot compiled in is in force)",
        ))?;
        registry.register(Box::new(root_refreshed.clone()))?;
        Ok(Self {
            registry,
            allow,
            deny,
            decisions,
            duration,
            cache,
            cache_bytes,
            root_refresh,
            root_refreshed,
        })
    }

    /// Records one answered `/admit` request. A refused request counts as a deny: a deny is
    /// what the API server received.
    pub fn observe(&self, outcome: Outcome, elapsed: Duration) {
        match outcome {
            Outcome::Allow | Outcome::Warn(_) => self.allow.inc(),
            Outcome::Deny(_) | Outcome::Invalid => self.deny.inc(),
        }
        self.decisions
            .with_label_values(&decision_labels(outcome))
            .inc();
        self.duration
            .with_label_values(&[label(outcome)])
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        self.update_caches();
        self.update_root_refresh();
        prometheus::TextEncoder::new().encode_to_string(&self.registry.gather())
    }

    fn update_root_refresh(&self) {
        let counts = &crate::sigstore_root::COUNTS;
        for (result, total) in [("ok", counts.ok()), ("error", counts.errors())] {
            let counter = self.root_refresh.with_label_values(&[result]);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        self.root_refreshed.set(counts.last_success());
    }

    /// Counters only go up: each series is raised by what its cache counted since. The
    /// bytes are a gauge, set to what the weighed caches hold now.
    fn update_caches(&self) {
        for (name, counts) in cache::counts() {
            for (result, total) in [("hit", counts.hits()), ("miss", counts.misses())] {
                let counter = self.cache.with_label_values(&[name, result]);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
            if let Some(bytes) = counts.bytes() {
                let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
                self.cache_bytes.with_label_values(&[name]).set(bytes);
            }
        }
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

/// Every outcome, for series that exist from the start.
const OUTCOMES: [Outcome; 8] = [
    Outcome::Allow,
    Outcome::Warn(Class::Refused),
    Outcome::Warn(Class::Unverifiable),
    Outcome::Warn(Class::Policy),
    Outcome::Deny(Class::Refused),
    Outcome::Deny(Class::Unverifiable),
    Outcome::Deny(Class::Policy),
    Outcome::Invalid,
];

/// `[decision, mode, reason]`: an allow is the same in both modes, so it is always `enforce`.
fn decision_labels(outcome: Outcome) -> [&'static str; 3] {
    match outcome {
        Outcome::Allow => ["allow", "enforce", "none"],
        Outcome::Warn(class) => ["deny", "warn", class.label()],
        Outcome::Deny(class) => ["deny", "enforce", class.label()],
        Outcome::Invalid => ["deny", "enforce", "invalid"],
    }
}

fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allow",
        Outcome::Warn(_) => "warn",
        Outcome::Deny(_) => "deny",
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
        let text = rendered(&[
            Outcome::Allow,
            Outcome::Deny(Class::Refused),
            Outcome::Invalid,
        ]);
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
    fn cache_lookups_are_counted_by_cache_and_result() {
        let mut cache = cache::TtlCache::named("metrics_test", 4);
        cache.insert("k", 1, Duration::from_secs(60));
        for key in ["k", "k", "k", "absent"] {
            let _ = cache.get(&key);
        }
        let text = rendered(&[]);
        for line in [
            "# TYPE portieris_cache_requests_total counter",
            r#"portieris_cache_requests_total{cache="metrics_test",result="hit"} 3"#,
            r#"portieris_cache_requests_total{cache="metrics_test",result="miss"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn a_weighed_cache_reports_the_bytes_it_holds() {
        let mut weighed = cache::TtlCache::named("metrics_bytes_test", 4).weighed(1024, Vec::len);
        weighed.insert("a", vec![0_u8; 100], Duration::from_secs(60));
        weighed.insert("b", vec![0_u8; 20], Duration::from_secs(60));
        let mut unweighed = cache::TtlCache::named("metrics_unweighed_test", 4);
        unweighed.insert("a", 1, Duration::from_secs(60));
        let text = rendered(&[]);
        let line = r#"portieris_cache_bytes{cache="metrics_bytes_test"} 120"#;
        assert!(
            text.contains("# TYPE portieris_cache_bytes gauge\n"),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
        assert!(
            !text.contains(r#"portieris_cache_bytes{cache="metrics_unweighed_test"}"#),
            "an unweighed cache has no byte series: {text}"
        );
    }

    #[test]
    fn sigstore_root_refreshes_have_series_from_the_start() {
        // No unit test refreshes: the counts are the process's, all zero.
        let text = rendered(&[]);
        for line in [
            r#"portieris_sigstore_root_refresh_total{result="ok"} 0"#,
            r#"portieris_sigstore_root_refresh_total{result="error"} 0"#,
            "portieris_sigstore_root_last_refresh_timestamp_seconds 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn warn_mode_is_an_allow_to_portieris_counters_and_a_deny_in_mode_warn() {
        let text = rendered(&[
            Outcome::Warn(Class::Refused),
            Outcome::Allow,
            Outcome::Deny(Class::Refused),
            Outcome::Invalid,
        ]);
        for line in [
            "portieris_pod_admission_decision_allow_count 2",
            "portieris_pod_admission_decision_deny_count 2",
            r#"portieris_admission_decisions_total{decision="allow",mode="enforce",reason="none"} 1"#,
            r#"portieris_admission_decisions_total{decision="deny",mode="enforce",reason="refused"} 1"#,
            r#"portieris_admission_decisions_total{decision="deny",mode="enforce",reason="invalid"} 1"#,
            r#"portieris_admission_decisions_total{decision="deny",mode="warn",reason="refused"} 1"#,
            r#"portieris_admission_request_duration_seconds_count{outcome="warn"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn denials_are_counted_apart_by_whose_move_they_are() {
        let text = rendered(&[
            Outcome::Deny(Class::Unverifiable),
            Outcome::Deny(Class::Unverifiable),
            Outcome::Deny(Class::Policy),
            Outcome::Warn(Class::Unverifiable),
        ]);
        for line in [
            r#"portieris_admission_decisions_total{decision="deny",mode="enforce",reason="unverifiable"} 2"#,
            r#"portieris_admission_decisions_total{decision="deny",mode="enforce",reason="policy"} 1"#,
            r#"portieris_admission_decisions_total{decision="deny",mode="enforce",reason="refused"} 0"#,
            r#"portieris_admission_decisions_total{decision="deny",mode="warn",reason="unverifiable"} 1"#,
            "portieris_pod_admission_decision_deny_count 3",
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

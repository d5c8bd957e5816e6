//! The Prometheus recorder, installed once per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds, from a fast local answer to the request timeout.
const LATENCY_BUCKETS_MICROSECONDS: [u64; 12] =
    [500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000];

/// The process-wide handle; several gateways in one test process share it.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let buckets: Vec<_> = LATENCY_BUCKETS_MICROSECONDS
                .iter()
                .map(|us| std::time::Duration::from_micros(*us).as_secs_f64())
                .collect();
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Suffix("_seconds".to_string()), &buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); then ours only renders
            // what it records itself, which is still correct for this process's gateways.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

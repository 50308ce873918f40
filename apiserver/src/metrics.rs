//! The API server's Prometheus metrics, under kube-apiserver's names so its
//! dashboards apply: requests by verb, resource and code, their latency,
//! and the watches open.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// GET, LIST, WATCH, POST, PUT, PATCH, DELETE.
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
}

/// [`RequestLabels`] and the response code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub code: String,
}

/// Labels of the open-watch gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    pub group: String,
    pub resource: String,
}

/// Every metric of the API server.
pub struct Metrics {
    registry: Registry,
    /// `apiserver_request_total`.
    pub requests: Family<CodeLabels, Counter>,
    /// `apiserver_request_duration_seconds` (watches excluded: they last).
    pub duration: Family<RequestLabels, Histogram>,
    /// `apiserver_registered_watchers`.
    pub watchers: Family<WatchLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<CodeLabels, Counter>::default();
        let duration = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 1 ms .. ~32 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        let watchers = Family::<WatchLabels, Gauge>::default();
        registry.register(
            "apiserver_request",
            "Requests by verb, resource and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency by verb and resource",
            duration.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Watches open, by resource",
            watchers.clone(),
        );
        Metrics {
            registry,
            requests,
            duration,
            watchers,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Decrements a watch gauge when the watch's stream is dropped.
pub struct WatchGuard(pub Gauge);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exposed_under_kube_apiservers_names() {
        let m = Metrics::default();
        let labels = RequestLabels {
            verb: "LIST".into(),
            group: "".into(),
            resource: "pods".into(),
            subresource: "".into(),
        };
        m.duration.get_or_create(&labels).observe(0.01);
        m.requests
            .get_or_create(&CodeLabels {
                verb: "LIST".into(),
                group: "".into(),
                resource: "pods".into(),
                subresource: "".into(),
                code: "200".into(),
            })
            .inc();
        let text = m.encode();
        assert!(text.contains("apiserver_request_total{verb=\"LIST\",group=\"\",resource=\"pods\",subresource=\"\",code=\"200\"} 1"), "{text}");
        assert!(
            text.contains("apiserver_request_duration_seconds_count{verb=\"LIST\""),
            "{text}"
        );
    }
}

//! The process's Prometheus metrics: one [`Metrics`] per server, rendered in the Prometheus text
//! format (0.0.4) by [`Metrics::render`].
//!
//! Every label value comes from a closed set (an enum, a route template written in the code, an
//! error code), never from the request: a path with an id, a login or a token cannot become a
//! label, and the number of series stays bounded. Kept per server rather than in a global
//! registry so that several servers in one process (the tests) count separately.
//!
//! ```
//! let metrics = server::metrics::Metrics::new();
//! metrics.face_verification("match");
//! assert!(metrics.render().contains("facegate_face_verifications_total{outcome=\"match\"} 1"));
//! ```

use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Route label of requests no route template claimed (web assets, unknown paths).
pub const OTHER_ROUTE: &str = "other";

/// `1xx`..`5xx`: enough to tell errors from successes without a series per status.
fn status_class(status: u16) -> &'static str {
    match status {
        0..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The route template (`/api/channels/{id}/messages`), or [`OTHER_ROUTE`].
    route: String,
    status: &'static str,
}

/// One step of the face pipeline as the server runs it.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum FaceStage {
    /// Image decoding under the byte and pixel limits.
    Decode,
    /// A face detector (TinyFaceDetector or SSD MobileNetV1).
    Detection,
    /// The live check looking again at a larger input after the fast detector found no face
    /// (counted apart, like the next: how often they run drives a node's capacity).
    DetectionRetry,
    /// The live check's thorough detector (SSD MobileNetV1) when both others found none.
    DetectionThorough,
    /// The 68-point landmark net.
    Landmarks,
    /// Alignment and the recognition net.
    Descriptor,
    /// The expression net (the live check's smile).
    Expressions,
    /// The live check's per-frame quality and pose measures.
    Liveness,
}

impl FaceStage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Decode => "decode",
            Self::Detection => "detection",
            Self::DetectionRetry => "detection_retry",
            Self::DetectionThorough => "detection_thorough",
            Self::Landmarks => "landmarks",
            Self::Descriptor => "descriptor",
            Self::Expressions => "expressions",
            Self::Liveness => "liveness",
        }
    }
}

impl EncodeLabelValue for FaceStage {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        self.as_str().encode(encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: FaceStage,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Which WebSocket a connection gauge counts.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum SocketKind {
    /// `/api/ws`.
    Chat,
    /// `/api/face/live`.
    LiveCheck,
}

impl EncodeLabelValue for SocketKind {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        match self {
            Self::Chat => "chat",
            Self::LiveCheck => "live_check",
        }
        .encode(encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SocketLabels {
    socket: SocketKind,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Times face pipeline stages; a cheap clone for the face service.
#[derive(Debug, Clone)]
pub struct FaceTimer {
    stages: HistogramFamily<StageLabels>,
}

impl FaceTimer {
    /// Runs `work` and records its duration under `stage`.
    pub fn time<T>(&self, stage: FaceStage, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = work();
        self.observe(stage, start.elapsed());
        result
    }

    pub fn observe(&self, stage: FaceStage, took: Duration) {
        self.stages
            .get_or_create(&StageLabels { stage })
            .observe(took.as_secs_f64());
    }
}

/// The registry and the handles the server records into.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: HistogramFamily<RequestLabels>,
    face: FaceTimer,
    verifications: Family<OutcomeLabels, Counter>,
    lockouts: Family<KindLabels, Counter>,
    sockets: Family<SocketLabels, Gauge>,
    db_pool: Family<PoolLabels, Gauge>,
    bus_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
}

fn request_histogram() -> Histogram {
    // 1 ms to ~16 s: a static asset at the low end, an enrolment of several photos at the top.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn stage_histogram() -> Histogram {
    // 0.5 ms to ~8 s: a landmark pass on a small frame up to SSD on a 25 MP photo.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("facegate");
        let requests = HistogramFamily::new_with_constructor(request_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status class",
            requests.clone(),
        );
        let face = FaceTimer {
            stages: HistogramFamily::new_with_constructor(stage_histogram as fn() -> _),
        };
        registry.register(
            "face_stage_duration_seconds",
            "Time spent in each stage of the face pipeline, per image or frame",
            face.stages.clone(),
        );
        let verifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "face_verifications",
            "Face checks of a sign-in by outcome (match, mismatch, or the error code that ended it)",
            verifications.clone(),
        );
        let lockouts = Family::<KindLabels, Counter>::default();
        registry.register(
            "lockouts",
            "Lockout events by kind: a lockout that starts, or an attempt refused by one",
            lockouts.clone(),
        );
        let sockets = Family::<SocketLabels, Gauge>::default();
        registry.register(
            "websocket_connections",
            "Open WebSocket connections by socket",
            sockets.clone(),
        );
        // Both socket series exist from the start, so a dashboard shows 0 rather than nothing.
        for socket in [SocketKind::Chat, SocketKind::LiveCheck] {
            sockets.get_or_create(&SocketLabels { socket }).set(0);
        }
        let db_pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections: open (idle and in use) and idle",
            db_pool.clone(),
        );
        let bus_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "bus_lag_seconds",
            "Longest delay from a bus entry's append to its delivery on this node since the previous scrape (0 without a bus)",
            bus_lag.clone(),
        );
        Self {
            registry,
            requests,
            face,
            verifications,
            lockouts,
            sockets,
            db_pool,
            bus_lag,
        }
    }

    /// Records one answered HTTP request. `route` is a template from the router, never a path.
    pub fn http_request(
        &self,
        method: &axum::http::Method,
        route: &str,
        status: u16,
        took: Duration,
    ) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route.to_owned(),
            status: status_class(status),
        };
        self.requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// The face stage timer, for the face service.
    pub fn face_timer(&self) -> FaceTimer {
        self.face.clone()
    }

    /// Counts one face check of a sign-in: `match`, `mismatch`, or a stable error code
    /// (`no_face`, `liveness_failed`, `locked_out`...).
    pub fn face_verification(&self, outcome: &'static str) {
        self.verifications
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one lockout event (`password`, `face`, `face_disabled`, `second_factor`).
    pub fn lockout(&self, kind: &'static str) {
        self.lockouts.get_or_create(&KindLabels { kind }).inc();
    }

    /// Sets the number of open sockets of `socket`.
    pub fn set_sockets(&self, socket: SocketKind, open: usize) {
        self.sockets
            .get_or_create(&SocketLabels { socket })
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// One more open socket of `socket` until the returned guard drops.
    pub fn socket_opened(&self, socket: SocketKind) -> SocketGuard {
        let gauge = self.sockets.get_or_create_owned(&SocketLabels { socket });
        gauge.inc();
        SocketGuard { gauge }
    }

    /// Sets the database pool figures: connections open (idle and in use), and idle.
    pub fn set_db_pool(&self, open: u32, idle: usize) {
        self.db_pool
            .get_or_create(&PoolLabels { state: "open" })
            .set(i64::from(open));
        self.db_pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::try_from(idle).unwrap_or(i64::MAX));
    }

    /// Sets the bus lag: the longest append-to-delivery delay since the previous scrape.
    pub fn set_bus_lag(&self, lag: Duration) {
        self.bus_lag.set(lag.as_secs_f64());
    }

    /// The whole registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// Keeps a socket counted while it lives.
#[derive(Debug)]
pub struct SocketGuard {
    gauge: Gauge,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_series_are_labelled_by_route_template_and_status_class() {
        let m = Metrics::new();
        let route = "/api/me/passkeys/{id}";
        m.http_request(
            &axum::http::Method::DELETE,
            route,
            404,
            Duration::from_millis(3),
        );
        let text = m.render();
        assert!(
            text.contains(r#"facegate_http_request_duration_seconds_count{method="DELETE",route="/api/me/passkeys/{id}",status="4xx"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn socket_guard_counts_while_it_lives() {
        let m = Metrics::new();
        let guard = m.socket_opened(SocketKind::LiveCheck);
        assert!(m
            .render()
            .contains(r#"facegate_websocket_connections{socket="live_check"} 1"#));
        drop(guard);
        assert!(m
            .render()
            .contains(r#"facegate_websocket_connections{socket="live_check"} 0"#));
    }
}

//! Per-client-IP token buckets, in memory (they protect the process, not the account: the
//! per-account counters live in the database, see [`crate::auth::lockout`]).
//!
//! With a bus the limits hold for the deployment, not per node: each limiter counts in a Redis
//! window of `burst / per_sec` seconds that admits `burst` requests, summed over every node
//! (the same long-run rate as the bucket). Should the bus fail, the local bucket answers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::bus::Bus;
use crate::config::RateLimitConfig;

/// Above this many tracked addresses, full buckets are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// One token bucket: `burst` requests at once, refilled evenly at `per_sec`. Time comes from
/// the caller. The per-key limiters below keep one per key; a chat socket keeps one for its
/// client's frames.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    burst: f64,
    per_sec: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, per_sec: f64, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            burst,
            per_sec: per_sec.max(0.0),
            tokens: burst,
            updated: now,
        }
    }

    /// `per_minute` requests at once, refilled over a minute.
    pub fn per_minute(per_minute: u32, now: Instant) -> Self {
        Self::new(per_minute, f64::from(per_minute) / 60.0, now)
    }

    /// Takes one token at `now`; `Err(wait)` tells how long until one is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let tokens = self.tokens_at(now);
        if tokens >= 1.0 {
            self.tokens = tokens - 1.0;
            self.updated = now;
            return Ok(());
        }
        if self.per_sec == 0.0 {
            return Err(Duration::from_secs(3600));
        }
        Err(Duration::from_secs_f64((1.0 - tokens) / self.per_sec))
    }

    fn tokens_at(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        (self.tokens + elapsed * self.per_sec).min(self.burst)
    }

    fn is_full_at(&self, now: Instant) -> bool {
        self.tokens_at(now) >= self.burst
    }
}

/// One token bucket per key (a client address, an account): `burst` requests at once,
/// refilled at `per_sec`.
#[derive(Debug)]
pub struct KeyedRateLimiter<K> {
    burst: u32,
    per_sec: f64,
    buckets: Mutex<HashMap<K, TokenBucket>>,
    /// The deployment-wide window on the bus, and this limiter's name in it.
    shared: Option<(Bus, &'static str)>,
}

/// Buckets per client address.
pub type IpRateLimiter = KeyedRateLimiter<IpAddr>;

impl<K: std::hash::Hash + Eq> KeyedRateLimiter<K> {
    pub fn new(burst: u32, per_sec: f64) -> Self {
        Self {
            burst: burst.max(1),
            per_sec: per_sec.max(0.0),
            buckets: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Counts on `bus` under `name`, across every node, instead of in this process.
    pub fn shared(mut self, bus: Option<Bus>, name: &'static str) -> Self {
        self.shared = bus.map(|bus| (bus, name));
        self
    }

    /// Takes one token for `ip` (the key) at `now`; `Err(wait)` tells how long until one is
    /// available.
    pub fn check(&self, ip: K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| !b.is_full_at(now));
        }
        buckets
            .entry(ip)
            .or_insert_with(|| TokenBucket::new(self.burst, self.per_sec, now))
            .take(now)
    }
}

impl<K: std::hash::Hash + Eq + std::fmt::Display> KeyedRateLimiter<K> {
    /// Takes one request for `key` now: from the deployment-wide window when there is a bus,
    /// else from the local bucket. `Err(wait)` tells how long until one is available.
    pub async fn take(&self, key: K) -> Result<(), Duration> {
        let Some((bus, name)) = &self.shared else {
            return self.check(key, Instant::now());
        };
        if self.per_sec == 0.0 {
            return self.check(key, Instant::now());
        }
        let window = Duration::from_secs_f64(f64::from(self.burst) / self.per_sec);
        match bus.hit(&format!("{name}:{key}"), window).await {
            Ok((count, _)) if count <= u64::from(self.burst) => Ok(()),
            Ok((_, left)) => Err(left.max(Duration::from_millis(1))),
            Err(err) => {
                tracing::warn!(%err, "shared rate limit unavailable; counting on this node");
                self.check(key, Instant::now())
            }
        }
    }
}

/// The limiters of the endpoints that cost CPU or guess secrets.
#[derive(Debug)]
pub struct RateLimits {
    pub login: IpRateLimiter,
    pub register: IpRateLimiter,
    pub face: IpRateLimiter,
    pub detect: IpRateLimiter,
    /// Per account id.
    pub export: KeyedRateLimiter<i64>,
    /// Per account id: every chat write.
    pub chat_write: KeyedRateLimiter<i64>,
}

impl RateLimits {
    pub fn new(c: &RateLimitConfig) -> Self {
        Self::with_bus(c, None)
    }

    /// The limiters, counted across every node of `bus` when there is one.
    pub fn with_bus(c: &RateLimitConfig, bus: Option<Bus>) -> Self {
        let limiter =
            |burst, per_sec, name| IpRateLimiter::new(burst, per_sec).shared(bus.clone(), name);
        Self {
            login: limiter(c.login_burst, c.login_per_sec, "login"),
            register: limiter(c.register_burst, c.register_per_sec, "register"),
            face: limiter(c.face_burst, c.face_per_sec, "face"),
            detect: limiter(c.detect_burst, c.detect_per_sec, "detect"),
            export: KeyedRateLimiter::new(c.export_burst, c.export_per_sec)
                .shared(bus.clone(), "export"),
            chat_write: KeyedRateLimiter::new(c.chat_write_burst, c.chat_write_per_sec)
                .shared(bus.clone(), "chat_write"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn burst_then_refused_then_refilled() {
        let limiter = IpRateLimiter::new(3, 1.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(A, t0).is_ok());
        }
        let wait = limiter.check(A, t0).expect_err("bucket is empty");
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(limiter.check(A, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn addresses_have_separate_buckets() {
        let limiter = IpRateLimiter::new(1, 0.1);
        let t0 = Instant::now();
        assert!(limiter.check(A, t0).is_ok());
        assert!(limiter.check(A, t0).is_err());
        assert!(limiter.check(B, t0).is_ok());
    }

    #[test]
    fn five_frames_a_second_pass_the_default_detect_limit() {
        let limits = RateLimits::new(&RateLimitConfig::default());
        let t0 = Instant::now();
        for i in 0..50u64 {
            let at = t0 + Duration::from_millis(i * 200);
            assert!(limits.detect.check(A, at).is_ok(), "frame {i} refused");
        }
    }
}

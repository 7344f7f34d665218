//! Per-account brute-force rules as pure functions of the stored counters and `now`.
//!
//! - Face (NIST SP 800-63B-4 §3.2.3): `face_free_failures` (5) consecutive failures are free;
//!   after that each attempt waits `face_base_delay_secs` (30 s) after the last failure, doubling
//!   with each further failure (30, 60, 120 s...). After `face_disable_after` (50) consecutive
//!   failures the face factor is disabled until the account re-enrols. A success resets.
//! - Password: `password_free_failures` (10) consecutive failures are free, then the wait
//!   doubles from `password_base_delay_secs` (1 s) up to `password_max_delay_secs` (1 h); in
//!   addition no more than `password_max_failures_per_hour` (100) failures are counted in any
//!   one-hour window. A success resets the consecutive count (not the hourly window).
//!
//! - Non-face second factors (authenticator codes, recovery codes): the password's rules, on a
//!   counter of their own, so that a correct password does not reset them.
//!
//! Attempts are counted *before* the expensive check runs (see [`Counters::record_face_attempt`])
//! so parallel requests cannot all slip through the same gate.

use std::time::Duration;

use crate::config::LockoutConfig;
// The stored counters are storage's type; the rules over them are here.
pub use crate::storage::counters::{Counters, Throttle};

const HOUR_MS: i64 = 3_600_000;
/// Exponents above this would overflow; the delay is astronomically long by then anyway.
const MAX_DOUBLINGS: u32 = 40;

/// Whether a face attempt may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceGate {
    Open,
    Wait(Duration),
    Disabled,
}

fn doubling_delay(base_secs: u64, doublings: u32) -> Duration {
    let factor = 1u64 << doublings.min(MAX_DOUBLINGS);
    Duration::from_secs(base_secs.saturating_mul(factor))
}

fn remaining(last_at: Option<i64>, delay: Duration, now: i64) -> Option<Duration> {
    let ready_at = last_at?.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    (now < ready_at).then(|| Duration::from_millis((ready_at - now) as u64))
}

impl Counters {
    /// May a face attempt run at `now`?
    pub fn face_gate(&self, rules: &LockoutConfig, now: i64) -> FaceGate {
        if self.face_consecutive >= rules.face_disable_after {
            return FaceGate::Disabled;
        }
        if self.face_consecutive < rules.face_free_failures {
            return FaceGate::Open;
        }
        let delay = doubling_delay(
            rules.face_base_delay_secs,
            self.face_consecutive - rules.face_free_failures,
        );
        match remaining(self.face_last_failure_at, delay, now) {
            Some(wait) => FaceGate::Wait(wait),
            None => FaceGate::Open,
        }
    }

    /// Counts an attempt as a failure up front; [`Counters::face_succeeded`] undoes it.
    pub fn record_face_attempt(&mut self, now: i64) {
        self.face_consecutive = self.face_consecutive.saturating_add(1);
        self.face_last_failure_at = Some(now);
    }

    /// A face match resets the consecutive failures (as does re-enrolment).
    pub fn face_succeeded(&mut self) {
        self.face_consecutive = 0;
        self.face_last_failure_at = None;
    }

    /// May a password attempt run at `now`? `Err(wait)` when locked.
    pub fn password_gate(&self, rules: &LockoutConfig, now: i64) -> Result<(), Duration> {
        self.password.gate(rules, now)
    }

    /// Counts a password attempt as a failure up front; [`Counters::password_succeeded`] undoes
    /// the consecutive part.
    pub fn record_password_attempt(&mut self, now: i64) {
        self.password.record_attempt(now);
    }

    /// A correct password: the attempt recorded up front was no failure.
    pub fn password_succeeded(&mut self) {
        self.password.succeeded();
    }
}

impl Throttle {
    /// May an attempt run at `now`? `Err(wait)` when locked.
    pub fn gate(&self, rules: &LockoutConfig, now: i64) -> Result<(), Duration> {
        if let Some(start) = self.window_start {
            if now - start < HOUR_MS && self.window_count >= rules.password_max_failures_per_hour {
                return Err(Duration::from_millis((start + HOUR_MS - now) as u64));
            }
        }
        if self.consecutive < rules.password_free_failures {
            return Ok(());
        }
        let delay = doubling_delay(
            rules.password_base_delay_secs,
            self.consecutive - rules.password_free_failures,
        )
        .min(Duration::from_secs(rules.password_max_delay_secs));
        match remaining(self.last_failure_at, delay, now) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts an attempt as a failure up front; [`Throttle::succeeded`] undoes the consecutive
    /// part.
    pub fn record_attempt(&mut self, now: i64) {
        self.consecutive = self.consecutive.saturating_add(1);
        self.last_failure_at = Some(now);
        match self.window_start {
            Some(start) if now - start < HOUR_MS => {
                self.window_count = self.window_count.saturating_add(1);
            }
            _ => {
                self.window_start = Some(now);
                self.window_count = 1;
            }
        }
    }

    /// A correct answer: the attempt recorded up front was no failure, in either count.
    pub fn succeeded(&mut self) {
        self.consecutive = 0;
        self.last_failure_at = None;
        self.window_count = self.window_count.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn rules() -> LockoutConfig {
        LockoutConfig::default()
    }

    fn fail_face(c: &mut Counters, times: u32, at: i64) {
        for _ in 0..times {
            c.record_face_attempt(at);
        }
    }

    #[test]
    fn face_check_is_open_for_the_first_five_failures() {
        let mut c = Counters::default();
        fail_face(&mut c, 4, T0);
        assert_eq!(c.face_gate(&rules(), T0), FaceGate::Open);
    }

    #[test]
    fn face_check_locks_for_thirty_seconds_after_five_failures() {
        let mut c = Counters::default();
        fail_face(&mut c, 5, T0);
        assert_eq!(
            c.face_gate(&rules(), T0),
            FaceGate::Wait(Duration::from_secs(30))
        );
        assert_eq!(
            c.face_gate(&rules(), T0 + 29_999),
            FaceGate::Wait(Duration::from_millis(1))
        );
        assert_eq!(c.face_gate(&rules(), T0 + 30_000), FaceGate::Open);
    }

    #[test]
    fn face_delay_doubles_with_each_further_failure() {
        let mut c = Counters::default();
        fail_face(&mut c, 6, T0);
        assert_eq!(
            c.face_gate(&rules(), T0),
            FaceGate::Wait(Duration::from_secs(60))
        );
        c.record_face_attempt(T0);
        assert_eq!(
            c.face_gate(&rules(), T0),
            FaceGate::Wait(Duration::from_secs(120))
        );
    }

    #[test]
    fn face_is_disabled_after_fifty_failures_until_reset() {
        let mut c = Counters::default();
        fail_face(&mut c, 49, T0);
        assert_ne!(
            c.face_gate(&rules(), T0 + 10 * HOUR_MS * 1000),
            FaceGate::Disabled
        );
        c.record_face_attempt(T0);
        assert_eq!(c.face_gate(&rules(), i64::MAX / 2), FaceGate::Disabled);
        c.face_succeeded();
        assert_eq!(c.face_gate(&rules(), T0), FaceGate::Open);
    }

    #[test]
    fn password_lockout_is_exponential_after_ten_failures() {
        let mut c = Counters::default();
        for _ in 0..10 {
            assert!(c.password_gate(&rules(), T0).is_ok());
            c.record_password_attempt(T0);
        }
        assert_eq!(c.password_gate(&rules(), T0), Err(Duration::from_secs(1)));
        c.record_password_attempt(T0);
        assert_eq!(c.password_gate(&rules(), T0), Err(Duration::from_secs(2)));
        c.password_succeeded();
        assert!(c.password_gate(&rules(), T0).is_ok());
    }

    #[test]
    fn no_more_than_the_hourly_cap_of_password_failures() {
        let r = LockoutConfig {
            password_free_failures: 1000,
            ..rules()
        };
        let mut c = Counters::default();
        let mut accepted = 0;
        for i in 0..200i64 {
            let now = T0 + i * 1000;
            if c.password_gate(&r, now).is_ok() {
                c.record_password_attempt(now);
                accepted += 1;
            }
        }
        assert_eq!(accepted, 100);
        let wait = c.password_gate(&r, T0 + 200_000).expect_err("capped");
        assert_eq!(wait, Duration::from_millis((HOUR_MS - 200_000) as u64));
        assert!(
            c.password_gate(&r, T0 + HOUR_MS).is_ok(),
            "a new window opens after an hour"
        );
    }

    #[test]
    fn default_rules_allow_well_under_one_hundred_failures_an_hour() {
        let mut c = Counters::default();
        let mut now = T0;
        let mut failures = 0;
        while now < T0 + HOUR_MS {
            match c.password_gate(&rules(), now) {
                Ok(()) => {
                    c.record_password_attempt(now);
                    failures += 1;
                }
                Err(wait) => now += wait.as_millis() as i64,
            }
        }
        assert!(failures <= 100, "{failures}");
    }
}

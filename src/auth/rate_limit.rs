//! Request rate limits per visitor, IP, tenant and API key.
//!
//! Production counts with the Workers Rate Limiting binding. A binding has one fixed limit, so
//! `wrangler.toml` declares one binding per tier (`RATE_LIMIT_<n>`, n requests a minute) and an
//! agent's limit uses the largest tier that does not exceed it. Without bindings (tests, or a
//! deployment that left them out) `LocalLimiter` counts in the isolate with the same window.

use std::collections::HashMap;

/// Length of a rate-limit window in ms (the binding allows 10 s or 60 s).
pub const WINDOW_MS: i64 = 60_000;
/// Requests-per-minute values that have a `RATE_LIMIT_<n>` binding.
pub const TIERS: [u32; 13] = [1, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3000, 6000];
/// Most keys a local limiter tracks before it drops stale ones.
const MAX_KEYS: usize = 10_000;

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One visitor (token) of a tenant.
    Visitor,
    /// One client IP address.
    Ip,
    /// All traffic of a tenant.
    Tenant,
    /// One API key (`/v1`).
    Key,
}

impl Scope {
    /// Short name used in keys and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Visitor => "visitor",
            Scope::Ip => "ip",
            Scope::Tenant => "tenant",
            Scope::Key => "key",
        }
    }
}

/// One counter to check: a key and how many requests a minute it may make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What is counted.
    pub scope: Scope,
    /// Counter key, unique across scopes and tiers.
    pub key: String,
    /// Requests allowed per minute: the configured limit rounded down to its tier.
    pub per_minute: u32,
}

impl Check {
    /// A check for `scope` on `id`. Like the bindings, each tier counts separately, so a
    /// tenant limit counts the requests of the tenant's agents that share that limit.
    pub fn new(scope: Scope, id: &str, per_minute: u32) -> Self {
        let per_minute = tier(per_minute);
        Self {
            scope,
            key: format!("{}:{per_minute}:{id}", scope.as_str()),
            per_minute,
        }
    }
}

/// The binding tier used for a limit: the largest not above it (never more permissive).
pub fn tier(per_minute: u32) -> u32 {
    TIERS
        .iter()
        .rev()
        .copied()
        .find(|t| *t <= per_minute)
        .unwrap_or(TIERS[0])
}

/// Name of the binding for a tier.
pub fn binding_name(tier: u32) -> String {
    format!("RATE_LIMIT_{tier}")
}

/// A refusal: which scope ran out and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The scope over its limit.
    pub scope: Scope,
    /// Seconds until a retry can succeed.
    pub retry_after_secs: u32,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    current: u32,
    previous: u32,
}

/// In-isolate counters with a sliding-window estimate (the current minute plus the weighted
/// previous one), the way Cloudflare's own limiter approximates a sliding window.
#[derive(Debug, Default)]
pub struct LocalLimiter {
    windows: HashMap<String, Window>,
}

impl LocalLimiter {
    /// Counts one request against `check`; refuses it (without counting) when over the limit.
    pub fn hit(&mut self, check: &Check, now_ms: i64) -> Result<(), Limited> {
        let start = now_ms - now_ms.rem_euclid(WINDOW_MS);
        if self.windows.len() >= MAX_KEYS {
            self.windows.retain(|_, w| w.start >= start - WINDOW_MS);
        }
        let window = self.windows.entry(check.key.clone()).or_insert(Window {
            start,
            current: 0,
            previous: 0,
        });
        if window.start != start {
            window.previous = if window.start == start - WINDOW_MS {
                window.current
            } else {
                0
            };
            window.current = 0;
            window.start = start;
        }
        let elapsed = now_ms - start;
        let weight = (WINDOW_MS - elapsed) as f64 / WINDOW_MS as f64;
        let limit = f64::from(check.per_minute.max(1));
        let estimate = f64::from(window.previous) * weight + f64::from(window.current);
        if estimate + 1.0 <= limit {
            window.current += 1;
            return Ok(());
        }
        Err(Limited {
            scope: check.scope,
            retry_after_secs: retry_after(window, elapsed, limit),
        })
    }
}

/// Seconds until the estimate drops enough for one more request.
fn retry_after(window: &Window, elapsed: i64, limit: f64) -> u32 {
    let w = WINDOW_MS as f64;
    let (previous, current) = (f64::from(window.previous), f64::from(window.current));
    let wait_ms = if current + 1.0 <= limit && previous > 0.0 {
        // This window: wait until the previous window's weight has decayed enough.
        let decay_at = w - (limit - 1.0 - current) * w / previous;
        decay_at - elapsed as f64
    } else {
        // Next window, where this window's count becomes the decaying one.
        let next = if current > 0.0 {
            (w - (limit - 1.0) * w / current).max(0.0)
        } else {
            0.0
        };
        (w - elapsed as f64) + next
    };
    ((wait_ms / 1000.0).ceil() as u32).clamp(1, 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_then_refuses_with_retry_after() {
        let mut limiter = LocalLimiter::default();
        let check = Check::new(Scope::Visitor, "t1:v1", 3);
        let t = 1_000 * WINDOW_MS;
        for i in 0..3 {
            assert_eq!(limiter.hit(&check, t + i), Ok(()));
        }
        let refused = limiter.hit(&check, t + 10).expect_err("over the limit");
        assert_eq!(refused.scope, Scope::Visitor);
        assert!((60..=120).contains(&refused.retry_after_secs));
        // Another key has its own counter.
        assert_eq!(
            limiter.hit(&Check::new(Scope::Visitor, "t1:v2", 3), t),
            Ok(())
        );
    }

    #[test]
    fn the_previous_window_decays() {
        let mut limiter = LocalLimiter::default();
        let check = Check::new(Scope::Ip, "1.2.3.4", 10);
        let t = 500 * WINDOW_MS;
        for _ in 0..10 {
            limiter.hit(&check, t).expect("allowed");
        }
        // Early in the next window the previous count still weighs almost fully.
        let refused = limiter
            .hit(&check, t + WINDOW_MS + 1_000)
            .expect_err("limited");
        assert!(refused.retry_after_secs >= 5, "{refused:?}");
        // Waiting the advised time is enough.
        let later = t + WINDOW_MS + 1_000 + i64::from(refused.retry_after_secs) * 1_000;
        assert_eq!(limiter.hit(&check, later), Ok(()));
        // Two windows later nothing is left.
        assert_eq!(limiter.hit(&check, t + 3 * WINDOW_MS), Ok(()));
    }

    #[test]
    fn tiers_round_down() {
        assert_eq!(tier(20), 20);
        assert_eq!(tier(25), 20);
        assert_eq!(tier(0), 1);
        assert_eq!(tier(1_000_000), 6000);
        assert_eq!(binding_name(tier(59)), "RATE_LIMIT_30");
        let check = Check::new(Scope::Tenant, "t1", 25);
        assert_eq!((check.per_minute, check.key.as_str()), (20, "tenant:20:t1"));
    }
}

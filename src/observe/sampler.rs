//! Which turns are traced: a ratio decided from the trace id, as OpenTelemetry's
//! `TraceIdRatioBased` sampler does, so the decision needs no state and no extra randomness.

/// Whether a trace with `trace_id` is kept at `rate` (0 keeps none, 1 keeps all).
pub fn sampled(trace_id: &[u8; 16], rate: f64) -> bool {
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    // The lower 8 bytes of a random trace id, as a fraction of 2^64.
    let position = u64::from_be_bytes(low) as f64 / 18_446_744_073_709_551_616.0;
    position < rate
}

/// A sample rate as configured: a number in 0..=1, or `None` when it is not one.
pub fn parse_rate(text: &str) -> Option<f64> {
    // serde_json's number parser, which the worker has anyway, rather than a second one.
    serde_json::from_str::<f64>(text.trim())
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> [u8; 16] {
        let mut id = [1u8; 16];
        id[8..].copy_from_slice(&n.to_be_bytes());
        id
    }

    #[test]
    fn keeps_all_none_or_about_the_ratio() {
        assert!(sampled(&id(u64::MAX), 1.0));
        assert!(!sampled(&id(0), 0.0));
        assert!(!sampled(&id(0), f64::NAN));
        // Spread ids evenly over the range: a quarter of them fall under 0.25.
        let kept = (0..1000u64)
            .filter(|i| sampled(&id(i * (u64::MAX / 1000)), 0.25))
            .count();
        assert_eq!(kept, 250);
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert_eq!(parse_rate(" 0.5 "), Some(0.5));
        assert_eq!(parse_rate("1"), Some(1.0));
        assert_eq!(parse_rate("1.5"), None);
        assert_eq!(parse_rate("-0.1"), None);
        assert_eq!(parse_rate("half"), None);
    }
}

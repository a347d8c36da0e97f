//! Rate-limit enforcement: the Workers Rate Limiting binding of the check's tier when bound,
//! else this isolate's `LocalLimiter` (see `auth::rate_limit`).

use std::cell::RefCell;

use worker::{console_error, Env};

use crate::auth::rate_limit::{binding_name, tier, Check, LocalLimiter, WINDOW_MS};
use crate::error::ApiError;
use crate::platform::now_ms;

thread_local! {
    static LOCAL: RefCell<LocalLimiter> = RefCell::new(LocalLimiter::default());
}

/// Which limiter counts: `"binding"` when the tier bindings exist, else `"local"`.
pub fn kind(env: &Env) -> &'static str {
    if env.rate_limiter(&binding_name(60)).is_ok() {
        "binding"
    } else {
        "local"
    }
}

/// Counts one request against every check; the first exhausted one refuses it with 429.
pub async fn enforce(env: &Env, checks: &[Check]) -> Result<(), ApiError> {
    for check in checks {
        let now = now_ms();
        let limited = |retry_after_secs| ApiError::RateLimited {
            scope: check.scope,
            retry_after_secs,
        };
        let outcome = match env.rate_limiter(&binding_name(tier(check.per_minute))) {
            Ok(binding) => binding.limit(check.key.clone()).await.map(|o| o.success),
            Err(_) => Err(worker::Error::RustError("no binding".into())),
        };
        match outcome {
            Ok(true) => {}
            // The binding does not say when its window ends; the next minute boundary is when
            // a fixed window would.
            Ok(false) => {
                let left = WINDOW_MS - now.rem_euclid(WINDOW_MS);
                return Err(limited(((left + 999) / 1000).max(1) as u32));
            }
            Err(e) => {
                if !matches!(&e, worker::Error::RustError(m) if m == "no binding") {
                    console_error!("rate limit binding failed, counting locally: {e}");
                }
                LOCAL
                    .with(|local| local.borrow_mut().hit(check, now))
                    .map_err(|l| limited(l.retry_after_secs))?;
            }
        }
    }
    Ok(())
}

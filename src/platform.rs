//! Small runtime services from the Workers platform: randomness, time, timeouts, settings.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures::future::{select, Either};
use wasm_bindgen::prelude::*;

use crate::ids;
use crate::settings::Settings;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// A fresh random id such as `msg_4fT…` (20 base62 characters, about 119 bits).
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 20];
    get_random_values(&mut bytes);
    ids::from_random(prefix, &bytes)
}

/// 32 random bytes from the platform's CSPRNG.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    get_random_values(&mut bytes);
    bytes
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Runs `future` for at most `ms` milliseconds; `None` when time ran out.
pub async fn with_timeout<F: Future>(future: F, ms: u32) -> Option<F::Output> {
    let future = std::pin::pin!(future);
    let delay = worker::Delay::from(Duration::from_millis(u64::from(ms)));
    match select(future, delay).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}

thread_local! {
    /// The vars and secrets this isolate has read, by name (`None`: not set).
    static CONFIG: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
}

/// A var or secret of the deployment (a secret first), read from the runtime once per isolate:
/// they are fixed for an isolate's life (a new deployment starts new isolates), and each read
/// is a call into JavaScript, several of them per turn.
pub fn config_value(env: &worker::Env, name: &str) -> Option<String> {
    if let Some(known) = CONFIG.with(|config| config.borrow().get(name).cloned()) {
        return known;
    }
    let value = env
        .secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok();
    CONFIG.with(|config| {
        config.borrow_mut().insert(name.to_owned(), value.clone());
    });
    value
}

/// Reads the model settings from vars and secrets.
pub fn settings(env: &worker::Env) -> Settings {
    Settings::from_lookup(|name| config_value(env, name))
}

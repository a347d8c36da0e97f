//! The one way the worker bounds an outbound exchange in time: every fetch it makes (the model,
//! Convex, tenant webhooks) runs under a `Deadline`, which closes the connection when the time
//! runs out rather than leaving it open in the background.

use std::cell::Cell;
use std::future::Future;

use worker::{AbortController, AbortSignal};

use crate::platform::with_timeout;

/// A time limit for the fetches made under its `signal`.
pub struct Deadline {
    // Taken when aborting: aborting consumes the controller.
    controller: Cell<Option<AbortController>>,
    signal: AbortSignal,
    ms: u32,
}

impl Deadline {
    /// A deadline `ms` milliseconds from when `run` starts.
    pub fn new(ms: u32) -> Self {
        let controller = AbortController::default();
        Self {
            signal: controller.signal(),
            controller: Cell::new(Some(controller)),
            ms,
        }
    }

    /// The signal to fetch with, so the fetches are cancelled with the deadline.
    pub fn signal(&self) -> AbortSignal {
        self.signal.clone()
    }

    /// Runs `work`; when it outlives the deadline its fetches are aborted and the answer is
    /// `None`.
    pub async fn run<F: Future>(&self, work: F) -> Option<F::Output> {
        let output = with_timeout(work, self.ms).await;
        if output.is_none() {
            self.abort();
        }
        output
    }

    /// Cancels the fetches made under this deadline now.
    pub fn abort(&self) {
        if let Some(controller) = self.controller.take() {
            controller.abort();
        }
    }
}

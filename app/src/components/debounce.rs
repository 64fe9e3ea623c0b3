use leptos::prelude::*;
use std::time::Duration;

/// Runs an action once the trainer pauses: each call replaces the one still waiting.
/// Called from browser events only (it uses the window's timers).
#[derive(Clone, Copy)]
pub struct Debounce {
    waiting: StoredValue<Option<TimeoutHandle>>,
    delay: Duration,
}

impl Debounce {
    pub fn new(delay_ms: u64) -> Self {
        Debounce { waiting: StoredValue::new(None), delay: Duration::from_millis(delay_ms) }
    }

    pub fn call(&self, action: impl FnOnce() + 'static) {
        if let Some(handle) = self.waiting.get_value() {
            handle.clear();
        }
        self.waiting.set_value(set_timeout_with_handle(action, self.delay).ok());
    }

    /// Drops the waiting action (it was done another way).
    pub fn cancel(&self) {
        if let Some(handle) = self.waiting.get_value() {
            handle.clear();
        }
        self.waiting.set_value(None);
    }
}

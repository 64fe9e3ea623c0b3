use leptos::prelude::*;
use std::time::Duration;

/// A counter that ticks every `every` in the browser (never on the server), so resources
/// that read it fetch fresh data while the page is open.
pub fn ticks(every: Duration) -> RwSignal<u32> {
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), every) {
            on_cleanup(move || handle.clear());
        }
    });
    tick
}

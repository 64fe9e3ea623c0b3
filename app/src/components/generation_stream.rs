//! Follows a generation streamed from `/api/generate` or `/api/conversations/{id}/generate`
//! (server-sent events) and keeps each alternative's text in a signal as it grows.

use leptos::prelude::*;

/// What the page shows of a running or finished generation.
#[derive(Clone, Copy)]
pub struct Outputs {
    pub texts: RwSignal<Vec<String>>,
    /// Why each alternative ended ("stop", "length"), once it has.
    pub finished: RwSignal<Vec<Option<String>>>,
    pub running: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
    /// Something the trainer should know, such as old turns left out to fit the context.
    pub notice: RwSignal<Option<String>>,
    /// Set when the server has stored this generation (pages then read it back).
    pub saved: RwSignal<u32>,
    /// Which alternatives the server has stored one by one as they finished (suggestions):
    /// those can be used while the others are still written.
    pub stored: RwSignal<Vec<bool>>,
}

impl Outputs {
    pub fn new() -> Self {
        Outputs {
            texts: RwSignal::new(vec![]),
            finished: RwSignal::new(vec![]),
            running: RwSignal::new(false),
            error: RwSignal::new(None),
            notice: RwSignal::new(None),
            saved: RwSignal::new(0),
            stored: RwSignal::new(vec![]),
        }
    }

    fn reset(&self, n: usize) {
        self.texts.set(vec![String::new(); n]);
        self.finished.set(vec![None; n]);
        self.error.set(None);
        self.notice.set(None);
        self.saved.set(0);
        self.stored.set(vec![false; n]);
        self.running.set(true);
    }

    /// Whether alternative `index` is stored and may be used (tracked).
    pub fn is_stored(&self, index: usize) -> bool {
        self.stored.with(|s| s.get(index).copied().unwrap_or(false))
    }

    /// Each alternative's text so far and why it ended, once it has (tracked).
    pub fn alternatives(&self) -> Vec<(String, Option<String>)> {
        let finished = self.finished.get();
        self.texts
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, text)| (text, finished.get(i).cloned().flatten()))
            .collect()
    }
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs::new()
    }
}

/// Where a page keeps its open stream. In the browser the stream is not `Send` and lives in
/// local storage; on the server nothing streams, and a local value would be dropped on
/// another thread, so it is a plain (empty) one there.
#[cfg(feature = "hydrate")]
pub type Holder = StoredValue<Option<browser::Active>, LocalStorage>;
#[cfg(not(feature = "hydrate"))]
pub type Holder = StoredValue<Option<browser::Active>>;

pub fn holder() -> Holder {
    #[cfg(feature = "hydrate")]
    return StoredValue::new_local(None);
    #[cfg(not(feature = "hydrate"))]
    StoredValue::new(None)
}

/// Starts streaming `url` (a `/api/generate?...` address) for `n` alternatives into
/// `outputs`. A new call replaces the stream before it.
pub fn start(url: String, n: usize, outputs: Outputs, active: Holder) {
    outputs.reset(n);
    browser::start(url, outputs, active);
}

#[cfg(feature = "hydrate")]
pub mod browser {
    use super::Outputs;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{Event, EventSource, MessageEvent};

    /// An open stream and the callbacks it holds; dropping it closes the stream.
    pub struct Active {
        source: EventSource,
        _callbacks: Vec<Closure<dyn FnMut(Event)>>,
    }

    impl Drop for Active {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    fn data(event: &Event) -> Option<serde_json::Value> {
        let message = event.dyn_ref::<MessageEvent>()?;
        serde_json::from_str(&message.data().as_string()?).ok()
    }

    pub fn start(url: String, outputs: Outputs, active: super::Holder) {
        active.set_value(None);
        let source = match EventSource::new(&url) {
            Ok(source) => source,
            Err(_) => {
                outputs.error.set(Some("the browser could not open the stream".into()));
                outputs.running.set(false);
                return;
            }
        };
        let delta = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            if let Some(d) = data(&event) {
                let (index, text) =
                    (d["index"].as_u64().unwrap_or(0) as usize, d["text"].as_str().unwrap_or(""));
                outputs.texts.update(|texts| {
                    if let Some(t) = texts.get_mut(index) {
                        t.push_str(text)
                    }
                });
            }
        });
        let done = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            if let Some(d) = data(&event) {
                let index = d["index"].as_u64().unwrap_or(0) as usize;
                let reason = d["finish_reason"].as_str().unwrap_or("stop").to_string();
                outputs.finished.update(|f| {
                    if let Some(slot) = f.get_mut(index) {
                        *slot = Some(reason)
                    }
                });
            }
        });
        let started = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            let trimmed = data(&event).and_then(|d| d["trimmed"].as_u64()).unwrap_or(0);
            if trimmed > 0 {
                outputs.notice.set(Some(format!(
                    "The conversation is longer than the model's context: its {trimmed} oldest turn(s) were left out of what the model saw."
                )));
            }
        });
        let saved = Closure::<dyn FnMut(Event)>::new(move |_| {
            // Everything is stored now, each alternative included.
            outputs.stored.update(|s| s.iter_mut().for_each(|s| *s = true));
            outputs.saved.update(|n| *n += 1)
        });
        let stored = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            if let Some(index) = data(&event).and_then(|d| d["index"].as_u64()) {
                outputs.stored.update(|s| {
                    if let Some(slot) = s.get_mut(index as usize) {
                        *slot = true
                    }
                });
            }
        });
        // "end" closes the stream (EventSource would otherwise reconnect); "error" is a
        // failed generation (with a message) or a refused or broken connection (without).
        let source_for_end = source.clone();
        let end = Closure::<dyn FnMut(Event)>::new(move |_| {
            source_for_end.close();
            outputs.running.set(false);
        });
        let source_for_error = source.clone();
        let error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            source_for_error.close();
            let message =
                data(&event).and_then(|d| d["message"].as_str().map(str::to_string)).unwrap_or_else(|| {
                    "the model could not be reached: it may be busy, or you were signed out; try again".into()
                });
            outputs.error.set(Some(message));
            outputs.running.set(false);
        });
        let callbacks = [
            ("delta", delta),
            ("done", done),
            ("end", end),
            ("error", error),
            ("started", started),
            ("saved", saved),
            ("stored", stored),
        ];
        for (name, callback) in &callbacks {
            let _ = source.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
        }
        active
            .set_value(Some(Active { source, _callbacks: callbacks.into_iter().map(|(_, c)| c).collect() }));
    }
}

/// Stops a running stream: the server stops the model and stores what it wrote so far.
pub fn stop(outputs: Outputs, active: Holder) {
    active.set_value(None);
    if outputs.running.get_untracked() {
        outputs
            .finished
            .update(|f| f.iter_mut().filter(|s| s.is_none()).for_each(|s| *s = Some("cancelled".into())));
        outputs.running.set(false);
    }
}

/// On the server nothing streams: pages only start streams from browser events.
#[cfg(not(feature = "hydrate"))]
pub mod browser {
    use super::{Holder, Outputs};

    pub struct Active;

    pub fn start(_url: String, _outputs: Outputs, _active: Holder) {}
}

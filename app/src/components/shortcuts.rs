//! Keyboard shortcuts: a page lists its keys and what they do, handles them with
//! `use_keys`, and `?` (outside a text field) opens the list.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

/// One shortcut as the help shows it.
pub struct Key {
    pub keys: &'static str,
    pub does: &'static str,
}

/// Calls `handler` for every key pressed on the page while the calling component lives.
/// Only in the browser: the listener is set up by an effect, which never runs on the server.
pub fn use_keys(handler: impl Fn(&KeyboardEvent) + Clone + 'static) {
    Effect::new(move |_| {
        let handler = handler.clone();
        let listener = window_event_listener(leptos::ev::keydown, move |ev| handler(&ev));
        on_cleanup(move || listener.remove());
    });
}

/// Whether the key was typed into a text field (where letters and `?` are text).
pub fn typing(ev: &KeyboardEvent) -> bool {
    use leptos::wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "TEXTAREA" | "INPUT" | "SELECT"))
}

/// Moves the focus to the element with this id.
pub fn focus(id: &str) {
    use leptos::wasm_bindgen::JsCast;
    if let Some(el) =
        document().get_element_by_id(id).and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

/// Moves the focus to the turn before (-1) or after (+1) the focused one. Turns carry the
/// ids `turn-0`, `turn-1`, … in order.
pub fn move_focus(step: i32) {
    use leptos::wasm_bindgen::JsCast;
    let turns: Vec<leptos::web_sys::Element> =
        (0..).map_while(|i| document().get_element_by_id(&format!("turn-{i}"))).collect();
    if turns.is_empty() {
        return;
    }
    let active = document().active_element();
    let current = turns.iter().position(|t| active.as_ref().is_some_and(|a| t.contains(Some(a))));
    let last = turns.len() as i32 - 1;
    let next = match current {
        Some(i) => (i as i32 + step).clamp(0, last),
        None if step < 0 => last,
        None => 0,
    };
    if let Ok(el) = turns[next as usize].clone().dyn_into::<leptos::web_sys::HtmlElement>() {
        let _ = el.focus();
    }
}

/// The `?` help: a dialog listing the page's shortcuts; `?` opens it, Escape closes it.
#[component]
pub fn ShortcutHelp(keys: &'static [Key]) -> impl IntoView {
    let open = RwSignal::new(false);
    use_keys(move |ev| {
        if ev.key() == "?" && !typing(ev) {
            ev.prevent_default();
            open.update(|o| *o = !*o);
        } else if ev.key() == "Escape" {
            open.set(false);
        }
    });
    let rows =
        keys.iter().map(|k| view! { <tr><td><kbd>{k.keys}</kbd></td><td>{k.does}</td></tr> }).collect_view();
    view! {
        <button type="button" class="link shortcuts-button" on:click=move |_| open.set(true)>
            "Keyboard shortcuts (?)"
        </button>
        <div class="dialog" role="dialog" aria-label="Keyboard shortcuts" hidden=move || !open.get()>
            <h2>"Keyboard shortcuts"</h2>
            <table>
                <tbody>
                    {rows}
                    <tr><td><kbd>"?"</kbd></td><td>"Show or hide this list"</td></tr>
                </tbody>
            </table>
            <button type="button" on:click=move |_| open.set(false)>"Close"</button>
        </div>
    }
}

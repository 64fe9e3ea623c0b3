//! The next turn: a text box saved on the server as the trainer types, and the model's
//! suggestions for it, streamed in, stoppable, and taken with one click or key.

use super::WriteState;
use crate::api::conversations::{AddMessage, SaveComposer, StopSuggestion, SubmitConversation};
use crate::components::debounce::Debounce;
use crate::components::error_line::ErrorLine;
use crate::components::feedback_bar::FeedbackBar;
use crate::components::generation_stream;
use crate::components::markdown::Markdown;
use crate::conversation::{Conversation, ConversationStatus, Message, Role};
use crate::feedback::FeedbackTarget;
use leptos::prelude::*;
use std::sync::Arc;
use uuid::Uuid;

type Command = Arc<dyn Fn() -> bool + Send + Sync>;

/// What the page's keyboard shortcuts call; each says whether it did something.
#[derive(Clone)]
pub struct Commands {
    pub add: Command,
    pub submit: Command,
    pub suggest: Command,
    pub stop: Command,
    pub take: Arc<dyn Fn(usize) -> bool + Send + Sync>,
}

#[component]
pub fn Composer(conversation: Conversation, turns: Vec<Message>, state: WriteState) -> impl IntoView {
    let conversation_id = conversation.id;
    let parent = turns.last().map(|m| m.id);
    let role = conversation.next_role(parent);
    let label = format!("Next turn: {}", if role == Role::User { "the user" } else { "the assistant" });
    let save = ServerAction::<SaveComposer>::new();
    let autosave = Debounce::new(600);
    let outputs = state.suggestions;

    let add: Command = Arc::new(move || {
        let text = state.draft.get_untracked();
        if text.trim().is_empty() || state.add.pending().get_untracked() {
            return false;
        }
        autosave.cancel();
        let taken = state.taken.get_untracked();
        state.add.dispatch(AddMessage {
            conversation_id,
            request_id: state.add_id.get_value(),
            parent_id: parent,
            role,
            text,
            suggestion_request: taken.map(|t| t.0),
            suggestion_index: taken.map(|t| t.1),
        });
        true
    });
    let submit: Command = Arc::new(move || {
        if state.submit.pending().get_untracked() {
            return false;
        }
        state.submit.dispatch(SubmitConversation { conversation_id, request_id: Some(Uuid::new_v4()) });
        true
    });
    let suggest: Command = Arc::new(move || {
        let request_id = Uuid::new_v4();
        state.suggest_request.set(Some(request_id));
        let n = state.suggest_n.get_untracked();
        let mut url = format!(
            "/api/conversations/{conversation_id}/generate?purpose=suggest&request_id={request_id}&n={n}"
        );
        if let Some(parent) = parent {
            url.push_str(&format!("&parent={parent}"));
        }
        generation_stream::start(url, n, outputs, state.stream);
        true
    });
    let stop: Command = Arc::new(move || {
        let running = outputs.running.get_untracked();
        generation_stream::stop(outputs, state.stream);
        running
    });
    // A suggestion can be used once the server has stored it, while the others go on.
    let usable = move |index: usize| outputs.is_stored(index) || !outputs.running.get();
    let take = Arc::new(move |index: usize| {
        let Some(request_id) = state.suggest_request.get_untracked() else { return false };
        let Some(text) = outputs.texts.with_untracked(|t| t.get(index).cloned()) else { return false };
        if !untrack(|| usable(index)) {
            return false;
        }
        state.draft.set(text.clone());
        state.taken.set(Some((request_id, index as i64)));
        save.dispatch(SaveComposer { conversation_id, text });
        crate::components::shortcuts::focus("composer");
        true
    });
    state.commands.set_value(Some(Commands {
        add: add.clone(),
        submit: submit.clone(),
        suggest: suggest.clone(),
        stop: stop.clone(),
        take: take.clone(),
    }));

    let on_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        state.draft.set(text);
        autosave.call(move || {
            save.dispatch(SaveComposer { conversation_id, text: state.draft.get_untracked() });
        });
    };
    let save_state = move || {
        if save.pending().get() {
            "Saving…".to_string()
        } else {
            match save.value().get() {
                Some(Ok(())) => "Draft saved".to_string(),
                Some(Err(err)) => format!("Not saved ({}); your text is still here", err.message),
                None => String::new(),
            }
        }
    };
    let stop_one = ServerAction::<StopSuggestion>::new();
    // One card per suggestion, kept while its text streams in (so its buttons stay put).
    let cards = move || {
        let request = state.suggest_request.get();
        (0..outputs.texts.with(Vec::len)).map(|i| (request, i)).collect::<Vec<_>>()
    };
    let suggestion_card = move |(request, i): (Option<Uuid>, usize)| {
        let take = take.clone();
        let text = Signal::derive(move || outputs.texts.with(|t| t.get(i).cloned().unwrap_or_default()));
        let ended = move || outputs.finished.with(|f| f.get(i).cloned().flatten());
        let writing = move || outputs.running.get() && ended().is_none();
        let state_text = move || match ended().as_deref() {
            None => " · writing…",
            Some("length") => " · cut off at the token limit",
            Some("cancelled") => " · stopped",
            Some(_) => "",
        };
        // Once the server has stored it, a suggestion can be used and given feedback.
        let stored = move || outputs.is_stored(i);
        view! {
            <article class="suggestion" data-testid="suggestion" data-finished=move || ended().unwrap_or_default()>
                <header>
                    <strong>{format!("Suggestion {}", i + 1)}</strong>
                    <span class="muted">{state_text}</span>
                </header>
                <Markdown text />
                <div class="row actions">
                    <button type="button" disabled=move || !usable(i) on:click=move |_| { take(i); }>
                        {format!("Use suggestion {} (Alt+{})", i + 1, i + 1)}
                    </button>
                    <button type="button" class="secondary" hidden=move || !writing()
                        disabled=move || stop_one.pending().get()
                        on:click=move |_| {
                            if let Some(request_id) = request {
                                stop_one.dispatch(StopSuggestion { conversation_id, request_id, index: i as i64 });
                            }
                        }>
                        {format!("Stop suggestion {}", i + 1)}
                    </button>
                </div>
                <Show when=stored>
                    {move || request.map(|request_id| {
                        let target = FeedbackTarget::Suggestion { request_id, index: i as i64 };
                        view! { <FeedbackBar target conversation_id initial=None noun="suggestion" /> }
                    })}
                </Show>
            </article>
        }
    };
    let submitted = conversation.status == ConversationStatus::Submitted;
    let (add_click, submit_click, suggest_click, stop_click) = (add.clone(), submit.clone(), suggest, stop);
    view! {
        <div class="composer" data-role=role.as_str()>
            <label>
                {label}
                <textarea
                    id="composer"
                    rows="5"
                    prop:value=move || state.draft.get()
                    on:input=on_input
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) && !ev.shift_key() {
                            ev.prevent_default();
                            ev.stop_propagation();
                            add_click();
                        }
                    }
                ></textarea>
            </label>
            <p class="muted save-state" data-testid="save-state">{save_state}</p>
            <p class="muted" hidden=move || state.taken.get().is_none()>
                "Started from a suggestion: edit it freely; how far you move from it is recorded."
            </p>
            <div class="row actions">
                <button type="button" disabled=move || state.add.pending().get() on:click=move |_| { add(); }>
                    "Add turn"
                </button>
                <button type="button" class="secondary" disabled=move || outputs.running.get()
                    on:click=move |_| { suggest_click(); }>
                    {move || if outputs.texts.with(|t| t.is_empty()) { "Suggest (Alt+S)" } else { "Regenerate (Alt+R)" }}
                </button>
                <label class="inline">
                    "Suggestions"
                    <select on:change=move |ev| state.suggest_n.set(event_target_value(&ev).parse().unwrap_or(2))>
                        <option value="1">"1"</option>
                        <option value="2" selected>"2"</option>
                        <option value="3">"3"</option>
                        <option value="4">"4"</option>
                    </select>
                </label>
                <button type="button" class="secondary" hidden=move || !outputs.running.get()
                    on:click=move |_| { stop_click(); }>
                    "Stop (Esc)"
                </button>
            </div>
            <p class="notice" hidden=move || outputs.notice.get().is_none()>{move || outputs.notice.get()}</p>
            <p class="error" role="alert" hidden=move || outputs.error.get().is_none()>{move || outputs.error.get()}</p>
            <div class="suggestions">
                <For each=cards key=|card| *card children=suggestion_card />
            </div>
            <ErrorLine value=stop_one.value() />
            <ErrorLine value=state.add.value() />
            <div class="row actions">
                <button type="button" disabled=move || state.submit.pending().get() on:click=move |_| { submit_click(); }>
                    {if submitted { "Submit again" } else { "Submit" }}
                </button>
            </div>
        </div>
    }
}

/// The suggestion a turn started from, as a line under it.
pub fn suggestion_note(message: &Message) -> Option<String> {
    message.suggestion.as_ref().map(|s| {
        format!("From a model suggestion · edit distance {} ({:.0}%)", s.edit_distance, s.edit_ratio * 100.0)
    })
}

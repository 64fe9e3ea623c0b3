//! Write: a trainer writes a demonstration, playing both the user and the assistant, with
//! model suggestions to take, edit or regenerate. `/write` starts one; `/write/<id>`
//! continues it (after a reload, or on another machine).

mod composer;
mod history;
mod turns;

use crate::api::conversations::{
    AddMessage, RearrangeTurns, SubmitConversation, conversation_history, get_conversation,
};
use crate::components::error_line::ErrorLine;
use crate::components::generation_stream::{self, Outputs};
use crate::components::guidelines::GuidelinesPanel;
use crate::components::shortcuts::{Key, ShortcutHelp, focus, use_keys};
use crate::conversation::{Conversation, ConversationKind, ConversationStatus};
use crate::error::{ApiError, ErrorKind};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

/// Starts a demonstration, then goes to its page.
#[component]
pub fn WritePage() -> impl IntoView {
    let (create, request_id) = crate::pages::start_conversation("/write");
    view! {
        <div class="workspace">
            <section class="card">
                <h1>"Write a demonstration"</h1>
                <p class="muted">
                    "You write both sides: a user's message, the assistant's ideal reply, and so on. "
                    "The model can suggest either side; take a suggestion, edit it, or write your own."
                </p>
                <ActionForm action=create>
                    <input type="hidden" name="request_id" value=request_id />
                    <input type="hidden" name="kind" value=ConversationKind::Demonstration.as_str() />
                    <label>
                        "System prompt (optional)"
                        <textarea name="system_prompt" rows="2"></textarea>
                    </label>
                    <button type="submit" disabled=move || create.pending().get()>"Start"</button>
                </ActionForm>
                <ErrorLine value=create.value() />
                <p><a href="/mine">"Continue one of your drafts"</a></p>
            </section>
            <aside>
                <GuidelinesPanel area="write" />
            </aside>
        </div>
    }
}

pub const WRITE_KEYS: &[Key] = &[
    Key { keys: "Ctrl+Enter", does: "Add the turn you are writing" },
    Key { keys: "Ctrl+Shift+Enter", does: "Submit the demonstration" },
    Key { keys: "Alt+S", does: "Ask the model for suggestions" },
    Key { keys: "Alt+R", does: "Regenerate the suggestions" },
    Key { keys: "Alt+1 … Alt+4", does: "Use suggestion 1 to 4" },
    Key { keys: "Escape", does: "Stop the model" },
    Key { keys: "Alt+C", does: "Go to the text box" },
    Key { keys: "Alt+↑ / Alt+↓", does: "Go to the previous / next turn" },
];

/// What the composer and the turns share with the page: actions, and the state that must
/// outlive a refetch of the conversation.
#[derive(Clone, Copy)]
pub struct WriteState {
    pub add: ServerAction<AddMessage>,
    pub rearrange: ServerAction<RearrangeTurns>,
    pub submit: ServerAction<SubmitConversation>,
    /// Bumped to refetch the conversation.
    pub refresh: RwSignal<u32>,
    /// The text of the next turn, as typed.
    pub draft: RwSignal<String>,
    /// The suggestion the draft started from: its request id and index.
    pub taken: RwSignal<Option<(Uuid, i64)>>,
    pub suggestions: Outputs,
    pub stream: generation_stream::Holder,
    /// The request id of the suggestions on show.
    pub suggest_request: RwSignal<Option<Uuid>>,
    pub suggest_n: RwSignal<usize>,
    /// The conversation whose draft was loaded into the composer.
    pub loaded: RwSignal<Option<Uuid>>,
    /// The id of the next turn, made once per turn, so a double-clicked or retried add
    /// stores one turn.
    pub add_id: StoredValue<Uuid>,
    /// Set by the composer: what the keyboard shortcuts call.
    pub commands: StoredValue<Option<composer::Commands>>,
}

#[component]
pub fn DemonstrationPage() -> impl IntoView {
    crate::components::feedback_bar::FeedbackCategories::provide();
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok());
    let state = WriteState {
        add: ServerAction::new(),
        rearrange: ServerAction::new(),
        submit: ServerAction::new(),
        refresh: RwSignal::new(0),
        draft: RwSignal::new(String::new()),
        taken: RwSignal::new(None),
        suggestions: Outputs::new(),
        stream: generation_stream::holder(),
        suggest_request: RwSignal::new(None),
        suggest_n: RwSignal::new(2),
        loaded: RwSignal::new(None),
        commands: StoredValue::new(None),
        add_id: StoredValue::new(Uuid::new_v4()),
    };
    // A stored turn clears the composer and its suggestions; the next turn gets a new id.
    Effect::new(move |previous: Option<usize>| {
        let version = state.add.version().get();
        if previous.is_some_and(|p| p != version) && matches!(state.add.value().get_untracked(), Some(Ok(_)))
        {
            state.draft.set(String::new());
            state.taken.set(None);
            // Suggestions still being written are for the turn before: stop them (the
            // server keeps what they wrote).
            generation_stream::stop(state.suggestions, state.stream);
            state.suggest_request.set(None);
            state.suggestions.texts.set(vec![]);
            state.add_id.set_value(Uuid::new_v4());
        }
        version
    });
    let conversation = Resource::new(
        move || {
            (
                id(),
                state.refresh.get(),
                state.add.version().get(),
                state.rearrange.version().get(),
                state.submit.version().get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => get_conversation(id).await,
                None => Err(ApiError::new(ErrorKind::NotFound, "conversation not found")),
            }
        },
    );
    let history = Resource::new(
        move || (id(), state.submit.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => conversation_history(id).await,
                None => Ok(vec![]),
            }
        },
    );
    use_keys(move |ev| {
        let Some(commands) = state.commands.get_value() else { return };
        let handled =
            match (ev.ctrl_key() || ev.meta_key(), ev.alt_key(), ev.key().as_str(), ev.code().as_str()) {
                (true, _, "Enter", _) if ev.shift_key() => (commands.submit)(),
                (true, _, "Enter", _) => (commands.add)(),
                (_, true, _, "KeyS") | (_, true, _, "KeyR") => (commands.suggest)(),
                (_, true, _, code) if code.starts_with("Digit") => code[5..]
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .map(|n| (commands.take)(n - 1))
                    .unwrap_or(false),
                (_, _, "Escape", _) => (commands.stop)(),
                (_, true, _, "KeyC") => {
                    focus("composer");
                    true
                }
                (_, true, "ArrowUp", _) | (_, true, "ArrowDown", _) => {
                    crate::components::shortcuts::move_focus(if ev.key() == "ArrowUp" { -1 } else { 1 });
                    true
                }
                _ => false,
            };
        if handled {
            ev.prevent_default();
        }
    });
    view! {
        <div class="workspace">
            <section class="card">
                <h1>"Demonstration"</h1>
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match conversation.await {
                            Ok(conversation) => view! { <Demonstration conversation state /> }.into_any(),
                            Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Transition>
                <ErrorLine value=state.rearrange.value() />
                <ErrorLine value=state.submit.value() />
                <history::History history />
            </section>
            <aside>
                <GuidelinesPanel area="write" />
                <ShortcutHelp keys=WRITE_KEYS />
            </aside>
        </div>
    }
}

#[component]
fn Demonstration(conversation: Conversation, state: WriteState) -> impl IntoView {
    // The draft typed before a reload (or on another machine) comes back once.
    if state.loaded.get_untracked() != Some(conversation.id) {
        state.loaded.set(Some(conversation.id));
        state.draft.set(conversation.composer.clone().unwrap_or_default());
    }
    let turns = conversation.path(|_, _| None);
    let status = format!("{} · revision {}", conversation.status.as_str(), conversation.revision);
    let changed_since =
        (conversation.revision > 0 && conversation.status == ConversationStatus::Draft).then(|| {
            format!("Changed since revision {}: submit again to record the change.", conversation.revision)
        });
    view! {
        <p class="muted" data-testid="status">{status}</p>
        {changed_since.map(|text| view! { <p class="notice">{text}</p> })}
        {conversation.system_prompt.clone().map(|p| view! { <p class="muted">"System: " {p}</p> })}
        <turns::Turns conversation=conversation.clone() turns=turns.clone() state />
        <composer::Composer conversation turns state />
    }
}

//! Chat: a trainer talks with the hosted model. Replies stream in and are stored with the
//! model version, parameters and seed; regenerate makes a sibling reply; editing an earlier
//! user turn starts a new branch; ‹ 2/3 › moves between siblings. `/chat` starts a chat,
//! `/chat/<id>` continues it.

use crate::api::conversations::{AddMessage, SaveComposer, SetSampling, get_conversation};
use crate::api::datasets::RandomPrompt;
use crate::components::debounce::Debounce;
use crate::components::error_line::ErrorLine;
use crate::components::feedback_bar::{FeedbackBar, FeedbackCategories};
use crate::components::filter_feedback::{FilterFeedbackBar, verdict_notice};
use crate::components::generation_stream::{self, Outputs};
use crate::components::guidelines::GuidelinesPanel;
use crate::components::markdown::Markdown;
use crate::components::shortcuts::{Key, ShortcutHelp, focus, move_focus, use_keys};
use crate::conversation::{Author, Conversation, ConversationKind, Message, Role};
use crate::error::{ApiError, ErrorKind};
use crate::feedback::FeedbackTarget;
use crate::filter::Action as FilterAction;
use crate::model::SamplingParams;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Starts a chat with the active model, then goes to its page.
#[component]
pub fn ChatStartPage() -> impl IntoView {
    let (create, request_id) = crate::pages::start_conversation("/chat");
    let defaults = SamplingParams::default();
    view! {
        <div class="workspace">
            <section class="card">
                <h1>"Chat with the model"</h1>
                <p class="muted">
                    "Write as a user would. Regenerate replies you want alternatives for, and edit an "
                    "earlier turn to try another path; every branch is kept."
                </p>
                <ActionForm action=create>
                    <input type="hidden" name="request_id" value=request_id />
                    <input type="hidden" name="kind" value=ConversationKind::Chat.as_str() />
                    <label>
                        "System prompt (optional)"
                        <textarea name="system_prompt" rows="2"></textarea>
                    </label>
                    <div class="row">
                        <label>
                            "Temperature"
                            <input type="number" name="temperature" min="0" max="2" step="0.1"
                                value=defaults.temperature.to_string() />
                        </label>
                        <label>
                            "Max tokens"
                            <input type="number" name="max_tokens" min="1" max="2048"
                                value=defaults.max_tokens.to_string() />
                        </label>
                    </div>
                    <button type="submit" disabled=move || create.pending().get()>"Start chat"</button>
                </ActionForm>
                <ErrorLine value=create.value() />
            </section>
            <aside>
                <GuidelinesPanel area="chat" />
            </aside>
        </div>
    }
}

pub const CHAT_KEYS: &[Key] = &[
    Key { keys: "Ctrl+Enter", does: "Send your message" },
    Key { keys: "Alt+R", does: "Regenerate the last reply" },
    Key { keys: "Alt+← / Alt+→", does: "Previous / next version of the last reply" },
    Key { keys: "Escape", does: "Stop the model" },
    Key { keys: "Alt+C", does: "Go to the text box" },
    Key { keys: "Alt+↑ / Alt+↓", does: "Go to the previous / next turn" },
];

/// State that outlives a refetch of the conversation.
#[derive(Clone, Copy)]
struct ChatState {
    conversation_id: Uuid,
    add: ServerAction<AddMessage>,
    refresh: RwSignal<u32>,
    /// The sibling chosen under each parent (none: the first turns); the newest otherwise.
    choice: RwSignal<HashMap<Option<Uuid>, Uuid>>,
    /// The reply being written: the user turn it answers and its request id.
    pending: RwSignal<Option<(Uuid, Uuid)>>,
    reply: Outputs,
    stream: generation_stream::Holder,
    draft: RwSignal<String>,
    loaded: RwSignal<bool>,
    temperature: RwSignal<f64>,
    /// The turns on show, first to last (for the shortcuts).
    shown: RwSignal<Vec<(Uuid, Option<Uuid>, Role)>>,
    /// The last turn on show when it is a user turn the content filter blocked: its id,
    /// parent and text. The model will not answer it, so Send writes in its place.
    blocked_last: RwSignal<Option<(Uuid, Option<Uuid>, String)>>,
    add_id: StoredValue<Uuid>,
}

impl ChatState {
    /// Starts the model's reply to the user turn `parent`: a new sibling if it has one.
    fn reply_to(self, parent: Uuid) {
        if self.reply.running.get_untracked() {
            return;
        }
        let request_id = Uuid::new_v4();
        self.pending.set(Some((parent, request_id)));
        let url = format!(
            "/api/conversations/{}/generate?purpose=reply&parent={parent}&request_id={request_id}&temperature={}",
            self.conversation_id,
            self.temperature.get_untracked()
        );
        generation_stream::start(url, 1, self.reply, self.stream);
    }

    fn stop(self) -> bool {
        let running = self.reply.running.get_untracked();
        generation_stream::stop(self.reply, self.stream);
        running
    }

    /// Shows the sibling `step` away from `message` (‹ or ›).
    fn switch(self, conversation: &Conversation, message: &Message, step: isize) -> bool {
        let siblings: Vec<Uuid> = conversation.children(message.parent_id).map(|m| m.id).collect();
        let Some(at) = siblings.iter().position(|id| *id == message.id) else { return false };
        let Some(next) = at.checked_add_signed(step).and_then(|i| siblings.get(i)) else { return false };
        self.choice.update(|c| {
            c.insert(message.parent_id, *next);
        });
        true
    }

    fn send(self, parent: Option<Uuid>, text: String) -> bool {
        if text.trim().is_empty() || self.add.pending().get_untracked() || self.reply.running.get_untracked()
        {
            return false;
        }
        self.add.dispatch(AddMessage {
            conversation_id: self.conversation_id,
            request_id: self.add_id.get_value(),
            parent_id: parent,
            role: Role::User,
            text,
            suggestion_request: None,
            suggestion_index: None,
        });
        true
    }
}

#[component]
pub fn ChatPage() -> impl IntoView {
    FeedbackCategories::provide();
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok());
    let state = ChatState {
        conversation_id: id().unwrap_or_default(),
        add: ServerAction::new(),
        refresh: RwSignal::new(0),
        choice: RwSignal::new(HashMap::new()),
        pending: RwSignal::new(None),
        reply: Outputs::new(),
        stream: generation_stream::holder(),
        draft: RwSignal::new(String::new()),
        loaded: RwSignal::new(false),
        temperature: RwSignal::new(SamplingParams::default().temperature),
        shown: RwSignal::new(vec![]),
        blocked_last: RwSignal::new(None),
        add_id: StoredValue::new(Uuid::new_v4()),
    };
    // The branch the trainer was on is kept in the browser, so a reload shows it again.
    Effect::new(move |restored: Option<()>| {
        let choice = state.choice.get();
        if restored.is_none() {
            if let Some(saved) = branches::load(state.conversation_id) {
                state.choice.set(saved);
            }
        } else {
            branches::save(state.conversation_id, &choice);
        }
    });
    let conversation = Resource::new(
        move || (id(), state.refresh.get(), state.add.version().get()),
        |(id, ..)| async move {
            match id {
                Some(id) => get_conversation(id).await,
                None => Err(ApiError::new(ErrorKind::NotFound, "conversation not found")),
            }
        },
    );
    // A sent user turn is shown at once and answered.
    Effect::new(move |previous: Option<usize>| {
        let version = state.add.version().get();
        if previous.is_some_and(|p| p != version)
            && let Some(Ok(message)) = state.add.value().get_untracked()
        {
            state.draft.set(String::new());
            state.add_id.set_value(Uuid::new_v4());
            state.choice.update(|c| {
                c.insert(message.parent_id, message.id);
            });
            state.reply_to(message.id);
        }
        version
    });
    // A finished (or stopped) reply is selected and the conversation read again; a stopped
    // one is stored by the server once it notices, so that read waits a moment.
    Effect::new(move |was_running: Option<bool>| {
        let running = state.reply.running.get();
        if was_running == Some(true)
            && !running
            && let Some((parent, request_id)) = state.pending.get_untracked()
        {
            state.choice.update(|c| {
                c.insert(Some(parent), request_id);
            });
            let delay = if state.reply.saved.get_untracked() > 0 { 0 } else { 600 };
            set_timeout(
                move || {
                    state.pending.set(None);
                    state.refresh.update(|n| *n += 1);
                },
                Duration::from_millis(delay),
            );
        }
        running
    });
    use_keys(move |ev| {
        let shown = state.shown.get_untracked();
        let last_reply = shown.iter().rev().find(|(_, _, role)| *role == Role::Assistant).copied();
        let handled = match (ev.alt_key(), ev.key().as_str(), ev.code().as_str()) {
            (true, _, "KeyR") => match last_reply {
                Some((_, Some(parent), _)) => {
                    state.reply_to(parent);
                    true
                }
                _ => false,
            },
            (true, "ArrowLeft" | "ArrowRight", _) => {
                let step = if ev.key() == "ArrowLeft" { -1 } else { 1 };
                match (last_reply, conversation.get_untracked().and_then(Result::ok)) {
                    (Some((id, ..)), Some(c)) => c
                        .messages
                        .iter()
                        .find(|m| m.id == id)
                        .cloned()
                        .is_some_and(|m| state.switch(&c, &m, step)),
                    _ => false,
                }
            }
            (_, "Escape", _) => state.stop(),
            (true, _, "KeyC") => {
                focus("composer");
                true
            }
            (true, "ArrowUp" | "ArrowDown", _) => {
                move_focus(if ev.key() == "ArrowUp" { -1 } else { 1 });
                true
            }
            _ => false,
        };
        if handled {
            ev.prevent_default();
        }
    });
    let streaming = move || {
        state.pending.get().map(|_| {
            let text = Signal::derive(move || state.reply.texts.with(|t| t.first().cloned().unwrap_or_default()));
            view! {
                <li class="turn streaming" data-role="assistant" data-testid="streaming-reply">
                    <div class="turn-head"><span class="who">"Assistant"</span>
                        <span class="muted">{move || if state.reply.running.get() { "writing…" } else { "" }}</span>
                    </div>
                    <Markdown text />
                </li>
            }
        })
    };
    view! {
        <div class="workspace">
            <section class="card">
                <h1>"Chat"</h1>
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match conversation.await {
                            Ok(conversation) => view! { <Chat conversation state /> }.into_any(),
                            Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Transition>
                <ol class="turns">{streaming}</ol>
                <p class="notice" hidden=move || state.reply.notice.get().is_none()>{move || state.reply.notice.get()}</p>
                <p class="error" role="alert" hidden=move || state.reply.error.get().is_none()>
                    {move || state.reply.error.get()}
                </p>
                <ChatComposer state />
            </section>
            <aside>
                <GuidelinesPanel area="chat" />
                <ShortcutHelp keys=CHAT_KEYS />
            </aside>
        </div>
    }
}

#[component]
fn Chat(conversation: Conversation, state: ChatState) -> impl IntoView {
    if !state.loaded.get_untracked() {
        state.loaded.set(true);
        state.draft.set(conversation.composer.clone().unwrap_or_default());
        if let Some(sampling) = &conversation.sampling {
            state.temperature.set(sampling.temperature);
        }
    }
    let conversation = StoredValue::new(conversation);
    let path = move || {
        let choice = state.choice.get();
        let c = conversation.read_value();
        match state.pending.get() {
            // While a reply is written, the turns down to the one it answers.
            Some((parent, _)) => c.ancestry(parent),
            None => c.path(|parent, siblings| {
                choice.get(&parent).and_then(|id| siblings.iter().position(|m| m.id == *id))
            }),
        }
    };
    let rows = move || {
        let turns = path();
        state.shown.set(turns.iter().map(|m| (m.id, m.parent_id, m.role)).collect());
        state.blocked_last.set(
            turns
                .last()
                .filter(|m| {
                    m.role == Role::User
                        && !matches!(m.author, Author::Model { .. })
                        && m.filter.as_ref().is_some_and(|v| v.action == Some(FilterAction::Block))
                })
                .map(|m| (m.id, m.parent_id, m.text.clone())),
        );
        turns
            .into_iter()
            .enumerate()
            .map(|(index, message)| view! { <ChatTurn index message conversation state /> })
            .collect_view()
    };
    let sampling = conversation.with_value(|c| c.sampling.clone()).unwrap_or_default();
    let system = conversation.with_value(|c| c.system_prompt.clone());
    view! {
        <Settings conversation_id=state.conversation_id sampling state />
        {system.map(|p| view! { <p class="muted">"System: " {p}</p> })}
        <ol class="turns">{rows}</ol>
    }
}

#[component]
fn ChatTurn(
    index: usize,
    message: Message,
    conversation: StoredValue<Conversation>,
    state: ChatState,
) -> impl IntoView {
    let (position, count) = conversation.with_value(|c| {
        let siblings: Vec<Uuid> = c.children(message.parent_id).map(|m| m.id).collect();
        (siblings.iter().position(|id| *id == message.id).unwrap_or(0), siblings.len())
    });
    let who = if message.role == Role::User { "User" } else { "Assistant" };
    let provenance = match &message.author {
        Author::Model { sampling, .. } => Some(format!(
            "model · temperature {} · seed {} · up to {} tokens",
            sampling.temperature, sampling.seed, sampling.max_tokens
        )),
        Author::Trainer { .. } => None,
    };
    let stored = StoredValue::new(message.clone());
    let switcher = (count > 1).then(|| {
        view! {
            <span class="branches" data-testid="branches">
                <button type="button" class="link" aria-label="Previous version" disabled=position == 0
                    on:click=move |_| { conversation.with_value(|c| state.switch(c, &stored.read_value(), -1)); }>"‹"</button>
                <span data-testid="branch-position">{format!("{}/{}", position + 1, count)}</span>
                <button type="button" class="link" aria-label="Next version" disabled=position + 1 == count
                    on:click=move |_| { conversation.with_value(|c| state.switch(c, &stored.read_value(), 1)); }>"›"</button>
            </span>
        }
    });
    let editing = RwSignal::new(false);
    let edited = RwSignal::new(message.text.clone());
    let parent = message.parent_id;
    let action = match message.role {
        Role::Assistant => parent.map(|parent| {
            view! {
                <button type="button" class="link" disabled=move || state.reply.running.get()
                    on:click=move |_| state.reply_to(parent)>"Regenerate"</button>
            }
            .into_any()
        }),
        _ => Some(
            view! {
                <button type="button" class="link" on:click=move |_| editing.update(|e| *e = !*e)>
                    {move || if editing.get() { "Cancel" } else { "Edit as a new branch" }}
                </button>
            }
            .into_any(),
        ),
    };
    let from_model = matches!(message.author, Author::Model { .. });
    let notice = verdict_notice(message.filter.as_ref(), from_model);
    let hidden = from_model && message.filter.as_ref().is_some_and(|v| v.action == Some(FilterAction::Block));
    // "Not unsafe" stands beside a flag; "should have been flagged" on a text that passed is
    // tucked away: among a reply's feedback details, or under "Content filter" on a user turn.
    let flagged = message.filter.as_ref().is_some_and(|v| v.action.is_some());
    let filter_bar = {
        let given = conversation
            .with_value(|c| c.my_filter_feedback.iter().find(|f| f.message_id == message.id).cloned());
        let (message_id, verdict) = (message.id, message.filter.clone());
        move || {
            view! {
                <FilterFeedbackBar conversation_id=state.conversation_id message_id
                    verdict=verdict.clone() given=given.clone() />
            }
        }
    };
    let (filter_feedback, extra): (Option<AnyView>, Option<ChildrenFn>) = match (flagged, from_model) {
        (true, _) => (Some(filter_bar().into_any()), None),
        (false, true) => (None, Some(Arc::new(move || filter_bar().into_any()))),
        (false, false) => (
            Some(
                view! {
                    <details class="more">
                        <summary>"Content filter"</summary>
                        {filter_bar()}
                    </details>
                }
                .into_any(),
            ),
            None,
        ),
    };
    let text = message.text.clone();
    let body = move || {
        if hidden {
            view! {
                <details class="filter-hidden">
                    <summary>"Show it anyway"</summary>
                    <Markdown text=text.clone() />
                </details>
            }
            .into_any()
        } else {
            view! { <Markdown text=text.clone() /> }.into_any()
        }
    };
    let feedback = from_model.then(|| {
        let target = FeedbackTarget::Message { id: message.id };
        let initial = conversation.with_value(|c| c.my_feedback.iter().find(|f| f.target == target).cloned());
        view! { <FeedbackBar target conversation_id=state.conversation_id initial extra /> }
    });
    view! {
        <li class="turn" id=format!("turn-{index}") data-role=message.role.as_str() tabindex="-1">
            <div class="turn-head">
                <span class="who">{who}</span>
                {switcher}
                <span class="turn-actions">{action}</span>
            </div>
            {notice}
            <Show when=move || editing.get() fallback=body>
                <textarea rows="3" aria-label="Edited user turn" prop:value=move || edited.get()
                    on:input=move |ev| edited.set(event_target_value(&ev))></textarea>
                <button type="button" on:click=move |_| {
                    if state.send(parent, edited.get_untracked()) {
                        editing.set(false);
                    }
                }>"Send as a new branch"</button>
            </Show>
            {provenance.map(|p| view! { <p class="muted small">{p}</p> })}
            {feedback}
            {filter_feedback}
        </li>
    }
}

#[component]
fn Settings(conversation_id: Uuid, sampling: SamplingParams, state: ChatState) -> impl IntoView {
    let set = ServerAction::<SetSampling>::new();
    let max_tokens = RwSignal::new(sampling.max_tokens);
    let apply = move || {
        set.dispatch(SetSampling {
            conversation_id,
            temperature: Some(state.temperature.get_untracked()),
            max_tokens: Some(max_tokens.get_untracked()),
        });
    };
    view! {
        <details class="settings">
            <summary>"Sampling"</summary>
            <div class="row">
                <label>
                    "Temperature"
                    <input type="number" min="0" max="2" step="0.1" prop:value=move || state.temperature.get().to_string()
                        on:change=move |ev| {
                            if let Ok(t) = event_target_value(&ev).parse() { state.temperature.set(t); apply(); }
                        } />
                </label>
                <label>
                    "Max tokens"
                    <input type="number" min="1" max="2048" prop:value=move || max_tokens.get().to_string()
                        on:change=move |ev| {
                            if let Ok(n) = event_target_value(&ev).parse() { max_tokens.set(n); apply(); }
                        } />
                </label>
            </div>
            <ErrorLine value=set.value() />
        </details>
    }
}

#[component]
fn ChatComposer(state: ChatState) -> impl IntoView {
    let save = ServerAction::<SaveComposer>::new();
    let autosave = Debounce::new(600);
    // An imported prompt to start from: it fills the box, to send as is or edit first.
    let draw = ServerAction::<RandomPrompt>::new();
    Effect::new(move |_| {
        if let Some(Ok(text)) = draw.value().get() {
            state.draft.set(text.clone());
            save.dispatch(SaveComposer { conversation_id: state.conversation_id, text });
        }
    });
    let send = move || {
        if let Some((_, parent, _)) = state.blocked_last.get_untracked() {
            // The model will not answer the blocked turn: this one goes in its place, as a
            // new branch beside it.
            autosave.cancel();
            return state.send(parent, state.draft.get_untracked());
        }
        let parent = state.shown.with_untracked(|s| s.last().map(|(id, ..)| *id));
        let ends_with_user = state.shown.with_untracked(|s| s.last().is_some_and(|(.., r)| *r == Role::User));
        if ends_with_user {
            // The last user turn has no reply (it failed or was stopped): answer it first.
            if let Some(parent) = parent {
                state.reply_to(parent);
            }
            return false;
        }
        autosave.cancel();
        state.send(parent, state.draft.get_untracked())
    };
    // Shown once the page is live: the server renders this before the conversation is read
    // (it streams in later), so hydrating it from the conversation would not match.
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    let blocked = move || live.get() && state.blocked_last.with(Option::is_some);
    let edit_blocked = move |_| {
        if let Some((_, _, text)) = state.blocked_last.get_untracked() {
            state.draft.set(text.clone());
            save.dispatch(SaveComposer { conversation_id: state.conversation_id, text });
            focus("composer");
        }
    };
    view! {
        <div class="composer">
            <Show when=blocked>
                <div class="notice" data-testid="blocked-help" role="status">
                    "The content filter blocked your last turn, so the model will not answer it. "
                    "Write a new turn in its place and send it: it becomes a new branch, and the "
                    "blocked turn is kept beside it (‹ › switches between them). "
                    <button type="button" class="link" on:click=edit_blocked>"Edit the blocked turn"</button>
                </div>
            </Show>
            <label>
                "Your message"
                <textarea
                    id="composer"
                    rows="3"
                    prop:value=move || state.draft.get()
                    on:input=move |ev| {
                        state.draft.set(event_target_value(&ev));
                        autosave.call(move || {
                            save.dispatch(SaveComposer {
                                conversation_id: state.conversation_id,
                                text: state.draft.get_untracked(),
                            });
                        });
                    }
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
                            ev.prevent_default();
                            send();
                        }
                    }
                ></textarea>
            </label>
            <div class="row actions">
                <button type="button" disabled=move || state.add.pending().get() || state.reply.running.get()
                    on:click=move |_| { send(); }>
                    {move || if blocked() { "Send in its place" } else { "Send" }}
                </button>
                <button type="button" class="secondary" hidden=move || !state.reply.running.get()
                    on:click=move |_| { state.stop(); }>"Stop (Esc)"</button>
                <button type="button" class="secondary" hidden=move || state.shown.with(|s| !s.is_empty())
                    disabled=move || draw.pending().get()
                    on:click=move |_| { draw.dispatch(RandomPrompt {}); }>"Use an imported prompt"</button>
            </div>
            <ErrorLine value=draw.value() />
            <ErrorLine value=state.add.value() />
            <ErrorLine value=save.value() />
        </div>
    }
}

/// The branch chosen under each turn of a chat, kept in the browser's local storage.
mod branches {
    use std::collections::HashMap;
    use uuid::Uuid;

    #[cfg(feature = "hydrate")]
    fn key(conversation: Uuid) -> String {
        format!("parley.chat.{conversation}.branches")
    }

    #[cfg(feature = "hydrate")]
    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    #[cfg(feature = "hydrate")]
    pub fn load(conversation: Uuid) -> Option<HashMap<Option<Uuid>, Uuid>> {
        let text = storage()?.get_item(&key(conversation)).ok()??;
        let pairs: Vec<(Option<Uuid>, Uuid)> = serde_json::from_str(&text).ok()?;
        Some(pairs.into_iter().collect())
    }

    #[cfg(feature = "hydrate")]
    pub fn save(conversation: Uuid, choice: &HashMap<Option<Uuid>, Uuid>) {
        let pairs: Vec<(&Option<Uuid>, &Uuid)> = choice.iter().collect();
        if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(&pairs)) {
            let _ = storage.set_item(&key(conversation), &text);
        }
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn load(_: Uuid) -> Option<HashMap<Option<Uuid>, Uuid>> {
        None
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn save(_: Uuid, _: &HashMap<Option<Uuid>, Uuid>) {}
}

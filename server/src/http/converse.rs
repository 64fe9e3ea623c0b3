//! `GET /api/conversations/{id}/generate`: the model writes in a conversation, streamed to
//! the page as server-sent events.
//!
//! - `purpose=reply` (chats): the assistant's reply to the user turn `parent`, stored as a
//!   model-written turn with the model version and the parameters and seed that reproduce it.
//!   A reply under a parent that already has one is a sibling (regenerate).
//! - `purpose=suggest` (demonstrations): `n` suggestions for the turn after `parent`, of
//!   whichever role comes next, each stored with what reproduces it.
//!
//! `request_id` (made by the page) is the stored reply's id, or the suggestions' request id:
//! the same request again replays what was stored instead of sampling anew. Each generation
//! runs in its own task; when the page goes away (or the trainer stops it) the model stops at
//! its next token and the text so far is stored, marked `cancelled`.
//!
//! Events: `started` (prompt tokens, and how many old turns were left out to fit the model's
//! context), `delta`, `done`, `stored` (one suggestion is stored and may be used), `saved`,
//! `error` (an `ApiError` as JSON), then `end`. A caller who may not write here gets
//! 401/403/404 before any stream; every later problem (a busy or missing model, a bad
//! parameter) arrives as an `error` event, so the page can show it.

use super::reply::{JsonQuery, error, model_error};
use app::api::conversations::access;
use app::conversation::{Author, Conversation, Role};
use app::domain::Role as AccountRole;
use app::error::{ApiError, ErrorKind};
use app::model::{ChatMessage, FinishReason, SamplingParams, finish_text, random_seed};
use app::ssr::model::{GenerationEvent, GenerationRequest, Stops};
use app::ssr::{AppState, NewMessage, NewSuggestions, Store};
use axum::extract::{Path, State};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

/// Most suggestions one request may ask for.
pub const MAX_SUGGESTIONS: usize = 4;

/// How often a running request reads the suggestions the trainer stopped.
const STOP_READS: std::time::Duration = std::time::Duration::from_millis(250);

/// How the model is asked to play the user when a trainer wants a suggestion for a user turn.
const PLAY_THE_USER: &str = "You help write a training conversation between a person and an AI \
assistant. Write only the person's next message: a natural, specific request or follow-up. Do not \
answer it.";
const FIRST_USER_TURN: &str = "Write the first message a person might send to an AI assistant.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Reply,
    Suggest,
}

#[derive(Debug, Deserialize)]
pub struct ConverseQuery {
    pub purpose: Purpose,
    #[serde(default)]
    pub parent: Option<Uuid>,
    pub request_id: Uuid,
    #[serde(default = "super::generate::one")]
    pub n: usize,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub seed: Option<u64>,
}

type Events = mpsc::Sender<Event>;

fn event(name: &str, data: serde_json::Value) -> Event {
    Event::default().event(name).json_data(data).unwrap_or_default()
}

/// A stream of the given events, then `end`.
fn stream(receiver: mpsc::Receiver<Event>) -> Response {
    let end = futures::stream::once(async { Ok::<_, Infallible>(Event::default().event("end").data("{}")) });
    Sse::new(ReceiverStream::new(receiver).map(Ok::<_, Infallible>).chain(end)).into_response()
}

/// A stream that carries only an error.
fn failed(err: ApiError) -> Response {
    let (sender, receiver) = mpsc::channel(1);
    let _ = sender.try_send(event("error", serde_json::to_value(err).unwrap_or_default()));
    stream(receiver)
}

pub async fn converse(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    JsonQuery(query): JsonQuery<ConverseQuery>,
) -> Response {
    let user = match super::reply::caller(&state, &headers, AccountRole::Trainer).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let stored = match state.store.conversation(id).await {
        Ok(stored) => stored,
        Err(err) => return error(err.into()),
    };
    let conversation = match access::for_writing(&user, stored) {
        Ok(conversation) => conversation,
        Err(err) => return error(err),
    };
    match start(&state, conversation, user.id, query).await {
        Ok(response) => response,
        Err(err) => failed(err),
    }
}

/// Checks the request against the conversation, then replays or starts the generation.
async fn start(
    state: &AppState,
    conversation: Conversation,
    user_id: Uuid,
    query: ConverseQuery,
) -> Result<Response, ApiError> {
    use app::conversation::ConversationKind::{Chat, Demonstration};
    let invalid = |field: &str, message: &str| ApiError::field(ErrorKind::Invalid, field, message);
    if let Some(parent) = query.parent
        && !conversation.messages.iter().any(|m| m.id == parent)
    {
        return Err(ApiError::field(ErrorKind::NotFound, "parent", "that turn is not in this conversation"));
    }
    let role = conversation.next_role(query.parent);
    match (query.purpose, conversation.kind) {
        (Purpose::Reply, Chat) if role != Role::Assistant => {
            return Err(invalid("parent", "the model replies to a user turn"));
        }
        (Purpose::Reply, Chat) if query.n != 1 => return Err(invalid("n", "a reply is one text")),
        (Purpose::Suggest, Demonstration) if !(1..=MAX_SUGGESTIONS).contains(&query.n) => {
            return Err(invalid("n", &format!("ask for 1 to {MAX_SUGGESTIONS} suggestions")));
        }
        (Purpose::Reply, Chat) | (Purpose::Suggest, Demonstration) => {}
        (Purpose::Reply, _) => return Err(invalid("purpose", "the model replies in chats")),
        (Purpose::Suggest, _) => return Err(invalid("purpose", "suggestions are for demonstrations")),
    }
    let (sender, receiver) = mpsc::channel(64);
    if replay(&conversation, &query, &sender) {
        return Ok(stream(receiver));
    }
    // No text the content filter blocks is sent to the model: not the turn replied to, nor
    // any before it, nor the system prompt.
    if let Some(blocked) =
        state.filter.first_blocked(state.store.as_ref(), &conversation, query.parent).await?
    {
        let field = if blocked.turn.is_some() { "parent" } else { "system_prompt" };
        return Err(ApiError::field(ErrorKind::Invalid, field, blocked.message()));
    }
    let max = state.limits.messages;
    if query.purpose == Purpose::Reply && conversation.messages.len() >= max {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!("a conversation may hold {max} messages at most"),
        ));
    }
    let base = conversation.sampling.clone().unwrap_or_default();
    let sampling = SamplingParams {
        temperature: query.temperature.unwrap_or(base.temperature),
        seed: query.seed.unwrap_or_else(random_seed),
        ..base
    };
    sampling.check().map_err(|(field, message)| ApiError::field(ErrorKind::Invalid, field, message))?;
    let served = state
        .models
        .active(state.store.as_ref())
        .await?
        .ok_or_else(|| model_error(app::ssr::model::ModelError::Unavailable))?;
    let stops = Stops::default();
    let request = GenerationRequest {
        messages: context(&conversation, query.parent, role),
        params: sampling.clone(),
        n: query.n,
        trim_oldest: true,
        stops: stops.clone(),
    };
    let events = served.model.generate(request).await.map_err(model_error)?;
    let job = Job {
        store: state.store.clone(),
        filter: state.filter.clone(),
        conversation_id: conversation.id,
        purpose: query.purpose,
        request_id: query.request_id,
        parent: query.parent,
        role,
        model_version_id: served.version,
        sampling,
        user_id,
        n: query.n,
        stops,
    };
    tokio::spawn(job.run(events, sender));
    Ok(stream(receiver))
}

/// Sends what an earlier run of the same request stored, if there is any.
fn replay(conversation: &Conversation, query: &ConverseQuery, sender: &Events) -> bool {
    let stored: Vec<(usize, String, String)> = match query.purpose {
        Purpose::Reply => conversation
            .messages
            .iter()
            .filter(|m| m.id == query.request_id)
            .map(|m| (0, m.text.clone(), "stop".to_string()))
            .collect(),
        Purpose::Suggest => conversation
            .suggestions
            .iter()
            .filter(|s| s.request_id == query.request_id)
            .map(|s| (s.index as usize, s.text.clone(), s.finish_reason.clone()))
            .collect(),
    };
    if stored.is_empty() {
        return false;
    }
    for (index, text, finish_reason) in stored {
        let _ = sender.try_send(event("delta", json!({ "index": index, "text": text })));
        let _ = sender.try_send(event("done", json!({ "index": index, "finish_reason": finish_reason })));
    }
    let _ = sender.try_send(event("saved", json!({ "request_id": query.request_id })));
    true
}

/// What the model is given: the system prompt and the turns down to `parent`. To write a
/// user turn the model plays the user: the roles are swapped and it is told so.
fn context(conversation: &Conversation, parent: Option<Uuid>, role: Role) -> Vec<ChatMessage> {
    if role == Role::Assistant {
        return conversation.chat_messages(parent);
    }
    let turns = parent.map(|p| conversation.ancestry(p)).unwrap_or_default();
    let mut messages = vec![];
    let mut instructions = PLAY_THE_USER.to_string();
    if let Some(system) = &conversation.system_prompt {
        instructions.push_str(&format!("\n\nThe assistant was told: {system}"));
    }
    messages.push(ChatMessage::new("system", instructions));
    if turns.is_empty() {
        messages.push(ChatMessage::new("user", FIRST_USER_TURN));
    }
    for turn in &turns {
        let swapped = if turn.role == Role::User { "assistant" } else { "user" };
        messages.push(ChatMessage::new(swapped, turn.text.clone()));
    }
    messages
}

/// One running generation: forwards its events to the page and stores the result.
struct Job {
    store: Arc<dyn Store>,
    filter: Arc<app::ssr::content_filter::FilterState>,
    conversation_id: Uuid,
    purpose: Purpose,
    request_id: Uuid,
    parent: Option<Uuid>,
    role: Role,
    model_version_id: Uuid,
    sampling: SamplingParams,
    user_id: Uuid,
    n: usize,
    /// Suggestions the trainer stopped, shared with the model so it skips them.
    stops: Stops,
}

/// What the job waits for next.
enum Next {
    Generated(GenerationEvent),
    /// The model has finished (or stopped) every alternative.
    Finished,
    /// Time to read the stops the trainer may have made.
    ReadStops,
}

impl Job {
    async fn run(self, mut events: mpsc::Receiver<GenerationEvent>, sender: Events) {
        // A reply is checked as it streams: once the policy would block it, the page gets no
        // more of it and the model stops; what was written is stored, hidden behind a notice.
        let policy = match self.purpose {
            Purpose::Reply => self.filter.streaming_policy(self.store.as_ref()).await.ok().flatten(),
            Purpose::Suggest => None,
        };
        let mut texts = vec![String::new(); self.n];
        let mut finish: Vec<Option<FinishReason>> = vec![None; self.n];
        // Suggestions are stored one by one as they finish, so each can be used at once.
        let mut stored = vec![false; self.n];
        let mut stopped = vec![false; self.n];
        let mut page_open = true;
        let mut stop_reads = tokio::time::interval(STOP_READS);
        stop_reads.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let read_stops = self.purpose == Purpose::Suggest;
        loop {
            let next = tokio::select! {
                generated = events.recv() => generated.map_or(Next::Finished, Next::Generated),
                _ = stop_reads.tick(), if read_stops => Next::ReadStops,
            };
            let generated = match next {
                Next::Generated(generated) => generated,
                Next::Finished => break,
                Next::ReadStops => {
                    for index in self.new_stops(&mut stopped, &finish).await {
                        self.stops.stop(index);
                        let done = event("done", json!({ "index": index, "finish_reason": "cancelled" }));
                        if sender.send(done).await.is_err() {
                            page_open = false;
                            break;
                        }
                        self.store_one(index, &texts[index], "cancelled", &sender, &mut stored).await;
                    }
                    if !page_open {
                        break;
                    }
                    continue;
                }
            };
            let forwarded = match generated {
                GenerationEvent::Started { prompt_tokens, trimmed, .. } => {
                    event("started", json!({ "prompt_tokens": prompt_tokens, "trimmed": trimmed }))
                }
                // What the model wrote of a stopped suggestion before it noticed is dropped.
                GenerationEvent::Delta { index, .. } | GenerationEvent::Done { index, .. }
                    if stopped.get(index).copied().unwrap_or(false) =>
                {
                    continue;
                }
                GenerationEvent::Delta { index, text } => {
                    // A NUL cannot be stored (PostgreSQL text refuses it) nor shown.
                    let text = text.replace('\0', "");
                    texts[index].push_str(&text);
                    if let Some(policy) = &policy {
                        // Only the newest part is checked as it streams (a window that holds
                        // any word or phrase across the token's edge), so a long reply costs
                        // O(n), not O(n²); the whole text is judged once it is stored.
                        let decision = policy.1.check(stream_window(&texts[index]));
                        if decision.action() == Some(app::filter::Action::Block) {
                            let categories = decision.categories().join(", ");
                            let _ = sender.send(event("blocked", json!({ "categories": categories }))).await;
                            break;
                        }
                    }
                    event("delta", json!({ "index": index, "text": text }))
                }
                GenerationEvent::Done { index, finish_reason, completion_tokens } => {
                    finish[index] = Some(finish_reason);
                    let done = event(
                        "done",
                        json!({ "index": index, "finish_reason": finish_reason, "tokens": completion_tokens }),
                    );
                    if sender.send(done).await.is_err() {
                        page_open = false;
                        break;
                    }
                    if self.purpose == Purpose::Suggest && !texts[index].trim().is_empty() {
                        let reason = finish_text(Some(finish_reason));
                        self.store_one(index, &texts[index], reason, &sender, &mut stored).await;
                    }
                    continue;
                }
                GenerationEvent::Failed { message } => {
                    let err = ApiError::new(ErrorKind::Unavailable, message);
                    let _ = sender.send(event("error", serde_json::to_value(err).unwrap_or_default())).await;
                    return;
                }
            };
            if sender.send(forwarded).await.is_err() {
                // The page went away or stopped the stream: stop the model, keep the text.
                page_open = false;
                break;
            }
        }
        drop(events);
        let finish: Vec<String> = finish
            .iter()
            .zip(&stopped)
            .map(|(f, stopped)| if *stopped { "cancelled" } else { finish_text(*f) }.to_string())
            .collect();
        let saved = self.save(texts, finish, &stored).await;
        if page_open {
            let message = match saved {
                Ok(()) => event("saved", json!({ "request_id": self.request_id })),
                Err(err) => event("error", serde_json::to_value(err).unwrap_or_default()),
            };
            let _ = sender.send(message).await;
        }
    }

    /// The suggestions stopped since the last look that are still being written.
    async fn new_stops(&self, stopped: &mut [bool], finish: &[Option<FinishReason>]) -> Vec<usize> {
        let Ok(indices) = self.store.stopped_suggestions(self.conversation_id, self.request_id).await else {
            return vec![];
        };
        let mut new = vec![];
        for index in indices.into_iter().filter_map(|i| usize::try_from(i).ok()) {
            if index < stopped.len() && !stopped[index] && finish[index].is_none() {
                stopped[index] = true;
                new.push(index);
            }
        }
        new
    }

    /// Stores one finished or stopped suggestion and tells the page it can be used.
    async fn store_one(&self, index: usize, text: &str, reason: &str, sender: &Events, stored: &mut [bool]) {
        let one = self.suggestions(vec![(index, text.to_string(), reason.to_string())]);
        match self.store.save_suggestions(one).await {
            Ok(()) => {
                stored[index] = true;
                let _ = sender.send(event("stored", json!({ "index": index }))).await;
            }
            // Left for the store at the end, which reports a failure.
            Err(err) => tracing::warn!(%err, "a finished suggestion could not be stored yet"),
        }
    }

    fn suggestions(&self, texts: Vec<(usize, String, String)>) -> NewSuggestions {
        NewSuggestions {
            request_id: self.request_id,
            conversation_id: self.conversation_id,
            parent_id: self.parent,
            role: self.role,
            model_version_id: self.model_version_id,
            sampling: self.sampling.clone(),
            texts,
            requested_by: self.user_id,
        }
    }

    async fn save(&self, texts: Vec<String>, finish: Vec<String>, stored: &[bool]) -> Result<(), ApiError> {
        if !stored.contains(&true) && texts.iter().all(|t| t.trim().is_empty()) {
            return Err(ApiError::new(ErrorKind::Unavailable, "the model wrote nothing; try again"));
        }
        match self.purpose {
            Purpose::Reply => {
                let message = NewMessage {
                    id: self.request_id,
                    parent_id: self.parent,
                    role: self.role,
                    text: texts.into_iter().next().unwrap_or_default(),
                    author: Author::Model {
                        model_version_id: self.model_version_id,
                        sampling: self.sampling.clone(),
                    },
                    suggestion: None,
                    taken_from: None,
                    decision: None,
                };
                let decision = self.filter.decide(self.store.as_ref(), &message.text).await?;
                self.store
                    .add_message(self.conversation_id, NewMessage { decision: Some(decision), ..message })
                    .await?;
            }
            Purpose::Suggest => {
                let rest: Vec<(usize, String, String)> = texts
                    .into_iter()
                    .zip(finish)
                    .enumerate()
                    .filter(|(index, _)| !stored[*index])
                    .map(|(index, (text, reason))| (index, text, reason))
                    .collect();
                if !rest.is_empty() {
                    self.store.save_suggestions(self.suggestions(rest)).await?;
                }
            }
        }
        Ok(())
    }
}

/// The end of a streaming text the filter checks at each token: its last 2 KB or so.
fn stream_window(text: &str) -> &str {
    const WINDOW: usize = 2048;
    let mut start = text.len().saturating_sub(WINDOW);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

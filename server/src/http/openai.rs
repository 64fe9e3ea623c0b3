//! Parley's OpenAI-compatible API: `GET /v1/models`, `POST /v1/chat/completions` (streamed
//! or not, `n` alternatives) and `POST /v1/moderations` (the policy's rules), for callers
//! holding an API key.

use crate::openai::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice, ChunkChoice, Delta, ErrorBody,
    ErrorDetail, ModelCard, ModelList, PromptTokensDetails, Usage,
};
use app::model::ChatMessage;
use app::ssr::model::{GenerationEvent, GenerationRequest, LanguageModel, ModelError, collect};
use app::ssr::moderation::{ModerationRequest, ModerationResponse, ModerationResult};
use app::ssr::{AppState, token_hash};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::header::{AUTHORIZATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::wrappers::ReceiverStream;

pub struct OpenAiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after_secs: Option<u64>,
}

impl OpenAiError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        let detail = ErrorDetail { message: message.into(), kind: kind.into(), param: None, code: None };
        OpenAiError { status, body: ErrorBody { error: detail }, retry_after_secs: None }
    }
}

impl From<ModelError> for OpenAiError {
    fn from(err: ModelError) -> Self {
        let message = err.to_string();
        match err {
            ModelError::Busy { retry_after_secs } => OpenAiError {
                retry_after_secs: Some(retry_after_secs),
                ..OpenAiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded", message)
            },
            ModelError::Unavailable => {
                OpenAiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            ModelError::Invalid { field, .. } => {
                let mut error = OpenAiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
                error.body.error.param = Some(field.to_string());
                error
            }
            ModelError::Failed(_) => {
                OpenAiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
            }
        }
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The caller must send `Authorization: Bearer <key>` with an unrevoked key.
async fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), OpenAiError> {
    let unauthorized = |message: &str| OpenAiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", message);
    let secret = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("send an API key as Authorization: Bearer <key>; admins make keys"))?;
    match state.store.api_key_by_hash(&token_hash(secret.trim())).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(unauthorized("this API key is unknown or revoked")),
        Err(err) => {
            tracing::error!(%err, "API key lookup failed");
            Err(OpenAiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error"))
        }
    }
}

/// The served model the request names, else the active one.
async fn model(state: &AppState, name: Option<&str>) -> Result<Arc<dyn LanguageModel>, OpenAiError> {
    let named = name.and_then(|name| state.models.served.iter().find(|s| s.model.info().name == name));
    if let Some(served) = named {
        return Ok(served.model.clone());
    }
    match state.models.active(state.store.as_ref()).await {
        Ok(Some(served)) => Ok(served.model.clone()),
        Ok(None) => Err(ModelError::Unavailable.into()),
        Err(err) => {
            tracing::error!(%err, "cannot read the active model");
            Err(OpenAiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error"))
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub async fn list_models(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ModelList>, OpenAiError> {
    authorize(&state, &headers).await?;
    let data = state
        .models
        .served
        .iter()
        .map(|served| ModelCard {
            id: served.model.info().name,
            object: "model".into(),
            created: 0,
            owned_by: "parley".into(),
        })
        .collect();
    Ok(Json(ModelList { object: "list".into(), data }))
}

pub async fn chat_completions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match complete(state, headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn complete(state: AppState, headers: HeaderMap, body: Bytes) -> Result<Response, OpenAiError> {
    authorize(&state, &headers).await?;
    let request: ChatCompletionRequest = serde_json::from_slice(&body).map_err(|err| {
        OpenAiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", format!("request body: {err}"))
    })?;
    for (i, message) in request.messages.iter().enumerate() {
        if !matches!(message.role.as_str(), "system" | "user" | "assistant") {
            let mut error = OpenAiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("messages[{i}].role must be system, user or assistant, not {:?}", message.role),
            );
            error.body.error.param = Some(format!("messages[{i}].role"));
            return Err(error);
        }
        if message.content.contains('\0') {
            let mut error = OpenAiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("messages[{i}].content cannot contain a NUL character"),
            );
            error.body.error.param = Some(format!("messages[{i}].content"));
            return Err(error);
        }
    }
    let model = model(&state, request.model.as_deref()).await?;
    let name = model.info().name;
    let n = request.n.unwrap_or(1);
    let generation = GenerationRequest {
        messages: request.messages.clone(),
        params: request.sampling(),
        n,
        trim_oldest: false,
        stops: Default::default(),
    };
    let events = model.generate(generation).await?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    if request.stream {
        return Ok(stream(events, id, name).into_response());
    }
    let collected = collect(events, n).await?;
    let choices = collected
        .texts
        .into_iter()
        .zip(collected.finish)
        .enumerate()
        .map(|(index, (text, finish_reason))| Choice {
            index,
            message: ChatMessage::new("assistant", text),
            finish_reason,
        })
        .collect();
    let usage = Usage {
        prompt_tokens: collected.prompt_tokens,
        completion_tokens: collected.completion_tokens,
        total_tokens: collected.prompt_tokens + collected.completion_tokens,
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: collected.cached_tokens }),
    };
    let completion = ChatCompletion {
        id,
        object: "chat.completion".into(),
        created: unix_now(),
        model: name,
        choices,
        usage,
    };
    Ok(Json(completion).into_response())
}

/// Server-sent chunks as the model writes; `[DONE]` at the end. Dropping the connection
/// drops the receiver, which stops the generation at its next token.
fn stream(
    events: tokio::sync::mpsc::Receiver<GenerationEvent>,
    id: String,
    model: String,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let created = unix_now();
    let chunk = move |choices: Vec<ChunkChoice>| {
        let chunk = ChatCompletionChunk {
            id: id.clone(),
            object: "chat.completion.chunk".into(),
            created,
            model: model.clone(),
            choices,
            usage: None,
        };
        Event::default().json_data(chunk).unwrap_or_else(|_| Event::default().data("{}"))
    };
    let events = ReceiverStream::new(events).map(move |event| {
        let choice = |index, delta, finish_reason| ChunkChoice { index, delta, finish_reason };
        Ok(match event {
            GenerationEvent::Started { .. } => {
                chunk(vec![choice(0, Delta { role: Some("assistant".into()), content: None }, None)])
            }
            GenerationEvent::Delta { index, text } => {
                chunk(vec![choice(index, Delta { role: None, content: Some(text) }, None)])
            }
            GenerationEvent::Done { index, finish_reason, .. } => {
                chunk(vec![choice(index, Delta::default(), Some(finish_reason))])
            }
            GenerationEvent::Failed { message } => Event::default()
                .json_data(ErrorBody {
                    error: ErrorDetail { message, kind: "server_error".into(), param: None, code: None },
                })
                .unwrap_or_default(),
        })
    });
    Sse::new(events.chain(futures::stream::once(async { Ok(Event::default().data("[DONE]")) })))
}

/// Most texts one moderation request may hold.
const MODERATION_INPUTS: usize = 32;

/// `POST /v1/moderations`: Parley's policy rules in OpenAI's moderation shape, so that other
/// tools (or another Parley, as its external endpoint) can use them. Every category of the
/// policy is listed; a category is flagged when a rule of it matched (score 1).
pub async fn moderations(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match moderate(state, headers, body).await {
        Ok(response) => Json(response).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn moderate(
    state: AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ModerationResponse, OpenAiError> {
    authorize(&state, &headers).await?;
    let invalid = |param: &str, message: String| {
        let mut error = OpenAiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        error.body.error.param = Some(param.to_string());
        error
    };
    let request: ModerationRequest =
        serde_json::from_slice(&body).map_err(|err| invalid("input", format!("request body: {err}")))?;
    let texts = request.input.texts();
    if texts.is_empty() || texts.len() > MODERATION_INPUTS {
        return Err(invalid("input", format!("send 1 to {MODERATION_INPUTS} texts")));
    }
    if let Some(long) = texts.iter().position(|t| t.len() > state.limits.message_bytes) {
        return Err(invalid(
            "input",
            format!("input {long} is over {} KB", state.limits.message_bytes / 1024),
        ));
    }
    let policy = state.filter.policy(state.store.as_ref()).await.map_err(|err| {
        tracing::error!(%err, "cannot read the policy");
        OpenAiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
    })?;
    let results = texts
        .iter()
        .map(|text| {
            let decision = policy.1.check(text);
            let hit = decision.categories();
            let categories: std::collections::BTreeMap<String, bool> = policy
                .1
                .categories
                .iter()
                .map(|c| (c.name.clone(), hit.contains(&c.name.as_str())))
                .collect();
            let category_scores = categories
                .iter()
                .map(|(name, flagged)| (name.clone(), if *flagged { 1.0 } else { 0.0 }))
                .collect();
            ModerationResult { flagged: !hit.is_empty(), categories, category_scores }
        })
        .collect();
    Ok(ModerationResponse {
        id: format!("modr-{}", uuid::Uuid::new_v4().simple()),
        model: format!("parley-policy-v{}", policy.0),
        results,
    })
}

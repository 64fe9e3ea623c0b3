//! `GET /api/generate`: a signed-in user's generation, streamed to the browser as
//! server-sent events (`delta`, `done`, `error`), K alternatives side by side.

use super::reply::{JsonQuery, error, model_error};
use app::domain::Role;
use app::error::{ApiError, ErrorKind};
use app::model::{ChatMessage, SamplingParams};
use app::ssr::model::{GenerationEvent, GenerationRequest, ModelError};
use app::ssr::{AppState, session_user};
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;

/// Longest prompt accepted, in bytes; longer is refused, not cut.
pub const MAX_PROMPT_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
pub struct GenerateQuery {
    pub prompt: String,
    #[serde(default = "one")]
    pub n: usize,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub seed: Option<u64>,
}

/// One alternative unless more are asked for.
pub(super) fn one() -> usize {
    1
}

pub async fn generate(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonQuery(query): JsonQuery<GenerateQuery>,
) -> Response {
    let Ok(Some(user)) = session_user(state.store.as_ref(), &headers).await else {
        return error(ApiError::unauthenticated());
    };
    if !user.role.allows(Role::Trainer) {
        return error(ApiError::new(ErrorKind::Forbidden, "this needs the trainer role"));
    }
    if query.prompt.len() > MAX_PROMPT_BYTES {
        return error(ApiError::field(
            ErrorKind::TooLarge,
            "prompt",
            format!("prompt is longer than {MAX_PROMPT_BYTES} bytes"),
        ));
    }
    let model = match state.models.active(state.store.as_ref()).await {
        Ok(Some(served)) => served.model.clone(),
        Ok(None) => return error(model_error(ModelError::Unavailable)),
        Err(err) => return error(err.into()),
    };
    let defaults = SamplingParams::default();
    let params = SamplingParams {
        temperature: query.temperature.unwrap_or(defaults.temperature),
        max_tokens: query.max_tokens.unwrap_or(defaults.max_tokens),
        seed: query.seed.unwrap_or(defaults.seed),
        ..defaults
    };
    let request = GenerationRequest {
        messages: vec![ChatMessage::new("user", query.prompt)],
        params,
        n: query.n,
        trim_oldest: false,
        stops: Default::default(),
    };
    let events = match model.generate(request).await {
        Ok(events) => events,
        Err(err) => return error(model_error(err)),
    };
    let stream = ReceiverStream::new(events).filter_map(|event| async move {
        let event = match event {
            GenerationEvent::Started { .. } => return None,
            GenerationEvent::Delta { index, text } => {
                Event::default().event("delta").json_data(json!({ "index": index, "text": text }))
            }
            GenerationEvent::Done { index, finish_reason, completion_tokens } => {
                Event::default().event("done").json_data(
                    json!({ "index": index, "finish_reason": finish_reason, "tokens": completion_tokens }),
                )
            }
            GenerationEvent::Failed { message } => {
                Event::default().event("error").json_data(json!({ "message": message }))
            }
        };
        Some(Ok::<_, std::convert::Infallible>(event.unwrap_or_default()))
    });
    Sse::new(stream.chain(futures::stream::once(async { Ok(Event::default().event("end").data("{}")) })))
        .into_response()
}

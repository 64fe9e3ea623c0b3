//! A remote OpenAI-compatible engine (vLLM, TGI, llama.cpp's server, another Parley) behind
//! the same `LanguageModel` port, for when one machine is not enough to sample.

use super::worker::check_request;
use crate::openai::{ChatCompletionChunk, ChatCompletionRequest, ModelList};
use app::model::ModelInfo;
use app::ssr::model::{GenerationEvent, GenerationRequest, LanguageModel, ModelError, Stops};
use async_trait::async_trait;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

pub struct RemoteModel {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    model: Option<String>,
    ready: Arc<AtomicBool>,
}

impl RemoteModel {
    /// Connects lazily; a background check of `/v1/models` sets readiness.
    pub fn new(base_url: &str, api_key: Option<String>, model: Option<String>) -> RemoteModel {
        let remote = RemoteModel {
            client: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            model,
            ready: Arc::new(AtomicBool::new(false)),
        };
        let (check, ready) = (remote.request(reqwest::Method::GET, "/v1/models"), remote.ready.clone());
        let url = remote.base_url.clone();
        tokio::spawn(async move {
            match check.send().await.and_then(|r| r.error_for_status()) {
                Ok(reply) => match reply.json::<ModelList>().await {
                    Ok(list) => {
                        tracing::info!(%url, models = ?list.data.iter().map(|m| &m.id).collect::<Vec<_>>(), "remote engine ready");
                        ready.store(true, Ordering::Release);
                    }
                    Err(err) => {
                        tracing::warn!(%url, %err, "remote engine answered /v1/models oddly")
                    }
                },
                Err(err) => tracing::warn!(%url, %err, "remote engine not reachable"),
            }
        });
        remote
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base_url));
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }
}

#[async_trait]
impl LanguageModel for RemoteModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            name: self.model.clone().unwrap_or_else(|| "remote".into()),
            source: self.base_url.clone(),
            sha256: None,
            ready: self.ready.load(Ordering::Acquire),
        }
    }

    async fn generate(
        &self,
        request: GenerationRequest,
    ) -> Result<mpsc::Receiver<GenerationEvent>, ModelError> {
        check_request(&request)?;
        let mut body =
            ChatCompletionRequest::from_sampling(request.messages, &request.params, request.n, true);
        body.model = self.model.clone();
        let reply = self
            .request(reqwest::Method::POST, "/v1/chat/completions")
            .json(&body)
            .send()
            .await
            .map_err(|err| ModelError::Failed(format!("remote engine: {err}")))?;
        let status = reply.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry_after_secs = reply
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(5);
            return Err(ModelError::Busy { retry_after_secs });
        }
        if !status.is_success() {
            let text = reply.text().await.unwrap_or_default();
            return Err(ModelError::Failed(format!("remote engine answered {status}: {text}")));
        }
        let (events, receiver) = mpsc::channel(64);
        tokio::spawn(relay(reply, events, request.n, request.stops));
        Ok(receiver)
    }
}

/// Reads the engine's server-sent chunks and passes them on as generation events. Stops
/// (dropping the connection, which stops the engine) when the receiver goes away.
/// A stopped alternative is passed on no further (the engine writes it to its end: an
/// OpenAI-compatible request cannot stop one of its choices).
async fn relay(reply: reqwest::Response, events: mpsc::Sender<GenerationEvent>, n: usize, stops: Stops) {
    let mut body = reply.bytes_stream();
    let mut buffer = Vec::new();
    let mut tokens = vec![0usize; n];
    if events.send(GenerationEvent::Started { prompt_tokens: 0, cached_tokens: 0, trimmed: 0 }).await.is_err()
    {
        return;
    }
    while let Some(piece) = body.next().await {
        let piece = match piece {
            Ok(piece) => piece,
            Err(err) => {
                let _ =
                    events.send(GenerationEvent::Failed { message: format!("remote engine: {err}") }).await;
                return;
            }
        };
        buffer.extend_from_slice(&piece);
        // Events end with a blank line; a chunk of the body may hold several or half of one.
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            for data in text.lines().filter_map(|line| line.strip_prefix("data:")).map(str::trim) {
                if data == "[DONE]" {
                    return;
                }
                let Ok(chunk) = serde_json::from_str::<ChatCompletionChunk>(data) else {
                    let _ = events
                        .send(GenerationEvent::Failed { message: format!("remote engine sent {data}") })
                        .await;
                    return;
                };
                for choice in chunk.choices {
                    let index = choice.index.min(n.saturating_sub(1));
                    if stops.is_stopped(index) {
                        continue;
                    }
                    let mut out = vec![];
                    if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                        tokens[index] += 1;
                        out.push(GenerationEvent::Delta { index, text });
                    }
                    if let Some(finish_reason) = choice.finish_reason {
                        out.push(GenerationEvent::Done {
                            index,
                            finish_reason,
                            completion_tokens: tokens[index],
                        });
                    }
                    for event in out {
                        if events.send(event).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

//! The model port: what server code needs from a language model. `server/src/model`
//! implements it with candle in-process, and with an OpenAI-compatible HTTP client for a
//! remote engine.

use super::{Store, StoreError};
use crate::model::{ChatMessage, FinishReason, ModelInfo, SamplingParams};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

pub struct GenerationRequest {
    pub messages: Vec<ChatMessage>,
    pub params: SamplingParams,
    /// How many alternatives of the same context (1..=9). Alternative `i` samples with
    /// seed `params.seed + i`.
    pub n: usize,
    /// When the conversation does not fit the model's context, leave out its oldest turns
    /// (never the system prompt or the last turn) instead of refusing it.
    pub trim_oldest: bool,
    /// Alternatives the caller has stopped while the others go on (a trainer stops one
    /// suggestion): the model writes no more of them and sends no `Done` for them.
    pub stops: Stops,
}

/// Which alternatives of one generation have been stopped, shared between the caller that
/// stops them and the model that skips them.
#[derive(Debug, Clone, Default)]
pub struct Stops(Arc<std::sync::atomic::AtomicU32>);

impl Stops {
    pub fn stop(&self, index: usize) {
        if index < 32 {
            self.0.fetch_or(1 << index, std::sync::atomic::Ordering::AcqRel);
        }
    }

    pub fn is_stopped(&self, index: usize) -> bool {
        index < 32 && self.0.load(std::sync::atomic::Ordering::Acquire) & (1 << index) != 0
    }
}

/// What a generation sends back, as it happens. Every `Delta` is valid UTF-8 text.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    /// Prompt tokens, sent once before any text.
    Started {
        prompt_tokens: usize,
        /// Of them, how many were not run again: a recent prompt began with them (the
        /// prompts' cache).
        cached_tokens: usize,
        /// Oldest turns left out to fit the model's context (`trim_oldest`).
        trimmed: usize,
    },
    Delta {
        index: usize,
        text: String,
    },
    Done {
        index: usize,
        finish_reason: FinishReason,
        completion_tokens: usize,
    },
    Failed {
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the model is busy; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("no model is loaded")]
    Unavailable,
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("the model failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait LanguageModel: Send + Sync {
    fn info(&self) -> ModelInfo;
    /// Queues a generation. Events arrive on the receiver; dropping it stops the work.
    async fn generate(
        &self,
        request: GenerationRequest,
    ) -> Result<mpsc::Receiver<GenerationEvent>, ModelError>;
}

/// Collects a whole generation: the text of each alternative and why it ended.
pub async fn collect(mut events: mpsc::Receiver<GenerationEvent>, n: usize) -> Result<Collected, ModelError> {
    let mut collected =
        Collected { texts: vec![String::new(); n], finish: vec![None; n], ..Default::default() };
    while let Some(event) = events.recv().await {
        match event {
            GenerationEvent::Started { prompt_tokens, cached_tokens, trimmed } => {
                collected.prompt_tokens = prompt_tokens;
                collected.cached_tokens = cached_tokens;
                collected.trimmed = trimmed;
            }
            GenerationEvent::Delta { index, text } => collected.texts[index].push_str(&text),
            GenerationEvent::Done { index, finish_reason, completion_tokens } => {
                collected.finish[index] = Some(finish_reason);
                collected.completion_tokens += completion_tokens;
            }
            GenerationEvent::Failed { message } => return Err(ModelError::Failed(message)),
        }
    }
    Ok(collected)
}

#[derive(Debug, Default, Clone)]
pub struct Collected {
    pub texts: Vec<String>,
    pub finish: Vec<Option<FinishReason>>,
    pub prompt_tokens: usize,
    /// Of the prompt's tokens, those the prompts' cache held.
    pub cached_tokens: usize,
    pub completion_tokens: usize,
    pub trimmed: usize,
}

/// A model this server runs, under the id of its recorded version.
pub struct ServedModel {
    pub version: Uuid,
    pub model: Arc<dyn LanguageModel>,
}

/// The models this server runs. Which one new work uses is the admins' choice, kept in the
/// store so that every server instance follows it.
#[derive(Default)]
pub struct ModelSet {
    pub served: Vec<ServedModel>,
}

impl ModelSet {
    /// The active model if this server runs it, else the first it runs, else none.
    pub async fn active(&self, store: &dyn Store) -> Result<Option<&ServedModel>, StoreError> {
        if self.served.is_empty() {
            return Ok(None);
        }
        let active = store.active_model().await?;
        Ok(self.served.iter().find(|s| Some(s.version) == active).or(self.served.first()))
    }

    pub fn get(&self, version: Uuid) -> Option<&ServedModel> {
        self.served.iter().find(|s| s.version == version)
    }
}

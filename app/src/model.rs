//! What the browser and the server share about model-written text: messages, sampling
//! parameters, and the provenance recorded with every text a model writes.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// "system", "user" or "assistant".
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        ChatMessage { role: role.to_string(), content: content.into() }
    }
}

pub const MAX_NEW_TOKENS: usize = 2048;
pub const MAX_ALTERNATIVES: usize = 9;
pub const MAX_STOP_STRINGS: usize = 4;

/// How a text is sampled. With the same model, prompt and parameters (seed included) the
/// same text comes out; `temperature == 0` is greedy decoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    pub temperature: f64,
    pub top_p: f64,
    /// 0 = no top-k cut.
    pub top_k: usize,
    pub max_tokens: usize,
    pub stop: Vec<String>,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 0.7, top_p: 0.9, top_k: 40, max_tokens: 256, stop: vec![], seed: 0 }
    }
}

impl SamplingParams {
    /// Checks the ranges; the error names the parameter.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(("temperature", "temperature must be between 0 and 2".into()));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(("top_p", "top_p must be above 0 and at most 1".into()));
        }
        if self.max_tokens == 0 || self.max_tokens > MAX_NEW_TOKENS {
            return Err(("max_tokens", format!("max_tokens must be between 1 and {MAX_NEW_TOKENS}")));
        }
        if self.stop.len() > MAX_STOP_STRINGS || self.stop.iter().any(|s| s.is_empty() || s.len() > 64) {
            return Err(("stop", format!("at most {MAX_STOP_STRINGS} stop strings of 1 to 64 bytes")));
        }
        Ok(())
    }
}

/// A seed that a browser can hold exactly (JavaScript numbers keep 53 bits).
pub fn random_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 >> 11
}

/// How a stored text names why it ended: "stop", "length", or "cancelled" when it was
/// stopped before either.
pub fn finish_text(reason: Option<FinishReason>) -> &'static str {
    match reason {
        Some(FinishReason::Stop) => "stop",
        Some(FinishReason::Length) => "length",
        None => "cancelled",
    }
}

/// Why a text ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model wrote its end-of-turn token, or a stop string appeared.
    Stop,
    /// `max_tokens` was reached.
    Length,
}

/// A model version as the Admin page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub id: uuid::Uuid,
    pub name: String,
    pub source: String,
    pub sha256: Option<String>,
    /// RFC 3339, UTC: when a server first served it.
    pub registered_at: String,
    /// Loaded by the server that answered.
    pub served: bool,
    pub ready: bool,
    /// The one new work uses.
    pub active: bool,
}

/// Which model wrote a text: enough to find the exact weights again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// The file (local engine) or the remote engine's URL.
    pub source: String,
    /// SHA-256 of the GGUF file, when known.
    pub sha256: Option<String>,
    pub ready: bool,
}

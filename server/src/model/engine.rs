//! A loaded GGUF model: weights, tokenizer and chat template, and the sampling loop. The
//! engine is owned by one worker thread (candle's `forward` takes `&mut self` and keeps the
//! KV cache inside the weights); a clone shares the weights and gets its own cache, which is
//! how K alternatives fork after one prefill.

use super::LoadError;
use super::chat_template::{CHATML, ChatTemplate};
use super::text_stream::{Step, TextStream};
use super::tokenizer;
use app::model::{FinishReason, ModelInfo, SamplingParams};
use app::ssr::model::{GenerationEvent, GenerationRequest, Stops};
use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use std::path::Path;
use std::time::{Duration, Instant};
use tokenizers::Tokenizer;

pub struct Engine {
    weights: ModelWeights,
    tokenizer: Tokenizer,
    stop_token_ids: Vec<u32>,
    template: ChatTemplate,
    context_length: usize,
    device: Device,
    pub info: ModelInfo,
}

/// Receives events; answers `false` when nobody listens any more (the client went away).
pub type Sink<'a> = dyn FnMut(GenerationEvent) -> bool + 'a;

impl Engine {
    /// Loads a llama-architecture GGUF. `sha256` is recorded as the model's version.
    pub fn load(path: &Path, sha256: Option<String>) -> Result<Engine, LoadError> {
        let mut file = std::fs::File::open(path)
            .map_err(|_| LoadError::File(crate::model_file::ModelFileError::Missing(path.to_path_buf())))?;
        let content = Content::read(&mut file).map_err(|err| LoadError::Malformed(err.to_string()))?;
        let meta_string = |key: &str| content.metadata.get(key).and_then(|v| v.to_string().ok()).cloned();
        let architecture = meta_string("general.architecture").unwrap_or_default();
        if architecture != "llama" {
            return Err(LoadError::Unsupported(format!(
                "architecture {architecture:?}; Parley runs llama-architecture GGUF models"
            )));
        }
        let built = tokenizer::from_gguf(&content)?;
        let token_text = |key: &str| {
            content
                .metadata
                .get(key)
                .and_then(|v| v.to_u32().ok())
                .and_then(|id| built.tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let template = ChatTemplate::new(
            meta_string("tokenizer.chat_template").unwrap_or_else(|| CHATML.to_string()),
            token_text("tokenizer.ggml.bos_token_id"),
            token_text("tokenizer.ggml.eos_token_id"),
        )?;
        let context_length = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| (n as usize).min(MAX_SEQ_LEN));
        // The file's name is what people chose and recognise; general.name is often a
        // training run's label.
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .or_else(|| meta_string("general.name"))
            .unwrap_or_default();
        let device = Device::Cpu;
        // Tensor data past the end of a truncated file surfaces here, as an error.
        let weights = ModelWeights::from_gguf(content, &mut file, &device)
            .map_err(|err| LoadError::Weights(err.to_string()))?;
        Ok(Engine {
            weights,
            tokenizer: built.tokenizer,
            stop_token_ids: built.stop_token_ids,
            template,
            context_length,
            device,
            info: ModelInfo { name, source: path.display().to_string(), sha256, ready: false },
        })
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.tokenizer
            .encode(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|err| format!("tokenize: {err}"))
    }

    /// The prompt tokens for a request: its messages through the model's chat template, and
    /// how many of its oldest turns were left out to fit the context (`trim_oldest`).
    pub fn prompt(&self, request: &GenerationRequest) -> Result<(Vec<u32>, usize), String> {
        let mut messages = request.messages.clone();
        let mut trimmed = 0;
        loop {
            let tokens = self.encode(&self.template.render(&messages)?)?;
            if tokens.len() + request.params.max_tokens <= self.context_length {
                return Ok((tokens, trimmed));
            }
            // The oldest turn after the system prompt goes, never the last one.
            let first = usize::from(messages.first().is_some_and(|m| m.role == "system"));
            if !request.trim_oldest || messages.len() <= first + 1 {
                return Err(format!(
                    "the conversation ({} tokens) plus max_tokens ({}) exceeds the model's context of {} tokens",
                    tokens.len(),
                    request.params.max_tokens,
                    self.context_length
                ));
            }
            messages.remove(first);
            trimmed += 1;
            // The context then starts with the user's turn, as chat templates expect.
            while messages.len() > first + 1 && messages[first].role == "assistant" {
                messages.remove(first);
                trimmed += 1;
            }
        }
    }

    /// Feeds `tokens` (starting at `position` in the sequence) through `model`, which keeps
    /// them in its KV cache, and returns the logits for the token after the last.
    fn next_logits(
        &self,
        model: &mut ModelWeights,
        tokens: &[u32],
        position: usize,
    ) -> Result<Tensor, String> {
        let input =
            Tensor::new(tokens, &self.device).and_then(|t| t.unsqueeze(0)).map_err(|e| e.to_string())?;
        model.forward(&input, position).and_then(|t| t.squeeze(0)).map_err(|e| e.to_string())
    }

    /// Runs one request to its end, sending events to `sink`. Errors are returned, not sent.
    pub fn generate(&self, request: &GenerationRequest, sink: &mut Sink<'_>) -> Result<(), String> {
        let (prompt, trimmed) = self.prompt(request)?;
        self.generate_from_tokens(&prompt, trimmed, &request.params, request.n, &request.stops, sink)
    }

    pub fn generate_from_tokens(
        &self,
        prompt: &[u32],
        trimmed: usize,
        params: &SamplingParams,
        n: usize,
        stops: &Stops,
        sink: &mut Sink<'_>,
    ) -> Result<(), String> {
        let mut base = self.weights.clone();
        let logits = self.next_logits(&mut base, prompt, 0)?;
        if !sink(GenerationEvent::Started { prompt_tokens: prompt.len(), trimmed }) {
            return Ok(());
        }
        let mut alternatives: Vec<Alternative> = (0..n)
            .map(|index| Alternative {
                index,
                model: if index + 1 == n { None } else { Some(base.clone()) },
                sampler: LogitsProcessor::from_sampling(
                    params.seed.wrapping_add(index as u64),
                    sampling(params),
                ),
                logits: logits.clone(),
                text: TextStream::new(&self.tokenizer, &params.stop),
                done: false,
            })
            .collect();
        // The last alternative takes the prefilled model itself instead of a clone.
        if let Some(last) = alternatives.last_mut() {
            last.model = Some(base);
        }
        // Round-robin, one token each, so all K stream side by side.
        while alternatives.iter().any(|alt| !alt.done) {
            for alt in alternatives.iter_mut().filter(|alt| !alt.done) {
                // A stopped alternative writes no more, and its KV cache goes at once.
                if stops.is_stopped(alt.index) {
                    alt.done = true;
                    alt.model = None;
                    continue;
                }
                let (text, finish) = alt.step(self, prompt.len(), params.max_tokens)?;
                if !text.is_empty() && !sink(GenerationEvent::Delta { index: alt.index, text }) {
                    return Ok(());
                }
                if let Some(finish_reason) = finish {
                    let completion_tokens = alt.text.token_count();
                    if !sink(GenerationEvent::Done { index: alt.index, finish_reason, completion_tokens }) {
                        return Ok(());
                    }
                }
                alt.done = finish.is_some();
            }
        }
        Ok(())
    }
}

fn sampling(params: &SamplingParams) -> Sampling {
    let temperature = params.temperature;
    match (temperature <= 0.0, params.top_k > 0, params.top_p < 1.0) {
        (true, _, _) => Sampling::ArgMax,
        (false, true, true) => Sampling::TopKThenTopP { k: params.top_k, p: params.top_p, temperature },
        (false, true, false) => Sampling::TopK { k: params.top_k, temperature },
        (false, false, true) => Sampling::TopP { p: params.top_p, temperature },
        (false, false, false) => Sampling::All { temperature },
    }
}

struct Alternative<'a> {
    index: usize,
    model: Option<ModelWeights>,
    sampler: LogitsProcessor,
    logits: Tensor,
    text: TextStream<'a>,
    done: bool,
}

impl Alternative<'_> {
    /// Samples one token: the text it adds, and why the alternative ended if it did.
    fn step(
        &mut self,
        engine: &Engine,
        prompt_len: usize,
        max_tokens: usize,
    ) -> Result<(String, Option<FinishReason>), String> {
        let fail = |err: candle_core::Error| err.to_string();
        let token = self.sampler.sample(&self.logits).map_err(fail)?;
        if engine.stop_token_ids.contains(&token) {
            return Ok((self.text.finish(), Some(FinishReason::Stop)));
        }
        let (text, stopped) = match self.text.push(token)? {
            Step::Text(text) => (text, false),
            Step::Stopped(text) => (text, true),
        };
        if stopped {
            return Ok((text, Some(FinishReason::Stop)));
        }
        if self.text.token_count() >= max_tokens {
            let mut text = text;
            text.push_str(&self.text.finish());
            return Ok((text, Some(FinishReason::Length)));
        }
        let model = self.model.as_mut().ok_or("alternative has no model")?;
        let position = prompt_len + self.text.token_count() - 1;
        self.logits = engine.next_logits(model, &[token], position)?;
        Ok((text, None))
    }
}

/// How long the parts of one generation took (for `parley bench`).
pub struct Timing {
    pub prefill: Duration,
    pub first_token: Duration,
    pub total: Duration,
}

impl Engine {
    /// Generates exactly `new_tokens` for each of `n` alternatives (no stop token ends them
    /// early) and times it. Sampling is seeded, so runs do the same work.
    pub fn time_generation(&self, prompt: &[u32], n: usize, new_tokens: usize) -> Result<Timing, String> {
        let fail = |err: candle_core::Error| err.to_string();
        let start = Instant::now();
        let mut base = self.weights.clone();
        let logits = self.next_logits(&mut base, prompt, 0)?;
        let prefill = start.elapsed();
        let params = SamplingParams { temperature: 0.8, top_p: 0.95, top_k: 40, ..Default::default() };
        let mut forks: Vec<(ModelWeights, LogitsProcessor, Tensor)> = (0..n)
            .map(|i| {
                (base.clone(), LogitsProcessor::from_sampling(i as u64, sampling(&params)), logits.clone())
            })
            .collect();
        let mut first_token = None;
        for step in 0..new_tokens {
            for (model, sampler, logits) in forks.iter_mut() {
                let token = sampler.sample(logits).map_err(fail)?;
                first_token.get_or_insert_with(|| start.elapsed());
                if step + 1 < new_tokens {
                    *logits = self.next_logits(model, &[token], prompt.len() + step)?;
                }
            }
        }
        Ok(Timing { prefill, first_token: first_token.unwrap_or(prefill), total: start.elapsed() })
    }
}

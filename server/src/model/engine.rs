//! A loaded GGUF model: weights, tokenizer and chat template, and the sampling loop. The
//! engine is owned by one worker thread; each request's sequences hold their own KV caches
//! (`llama::Sequence`). K alternatives fork after one prefill, share the prompt's cache and
//! step together, one forward pass for all of them per token.

use super::LoadError;
use super::chat_template::{CHATML, ChatTemplate};
use super::llama::{Item, Model, Prefix, Sequence};
use super::pool::Pool;
use super::prefixes::{DEFAULT_BUDGET_BYTES, Prefixes, Stats};
use super::sampler::{Sampler, Sampling};
use super::text_stream::{Step, TextStream};
use super::tokenizer;
use app::model::{FinishReason, ModelInfo, SamplingParams};
use app::ssr::model::{GenerationEvent, GenerationRequest, Stops};
use candle_core::quantized::gguf_file::Content;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokenizers::Tokenizer;

/// The longest sequence (prompt and completion) Parley runs, whatever the file allows.
pub const MAX_SEQ_LEN: usize = 4096;
/// Prompt tokens that requests arriving together put through one forward pass at most (the
/// pass's activations grow with its tokens).
const PREFILL_BATCH_TOKENS: usize = 512;

pub struct Engine {
    model: Model,
    tokenizer: Tokenizer,
    stop_token_ids: Vec<u32>,
    template: ChatTemplate,
    context_length: usize,
    /// Prompts' caches that later requests beginning with the same tokens continue.
    prefixes: Arc<Mutex<Prefixes>>,
    pub info: ModelInfo,
}

/// Receives events; answers `false` when nobody listens any more (the client went away).
pub type Sink<'a> = dyn FnMut(GenerationEvent) -> bool + 'a;

impl Engine {
    /// Loads a llama-architecture GGUF, to run on all cores. `sha256` is recorded as the
    /// model's version.
    pub fn load(path: &Path, sha256: Option<String>) -> Result<Engine, LoadError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Engine::load_with_threads(path, sha256, threads)
    }

    pub fn load_with_threads(
        path: &Path,
        sha256: Option<String>,
        threads: usize,
    ) -> Result<Engine, LoadError> {
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
        // Tensor data past the end of a truncated file surfaces here, as an error.
        let model = Model::load(&content, &mut file, context_length, threads).map_err(LoadError::Weights)?;
        Ok(Engine {
            model,
            tokenizer: built.tokenizer,
            stop_token_ids: built.stop_token_ids,
            template,
            context_length,
            prefixes: Arc::new(Mutex::new(Prefixes::new(DEFAULT_BUDGET_BYTES))),
            info: ModelInfo { name, source: path.display().to_string(), sha256, ready: false },
        })
    }

    /// Keeps prompts' caches of at most `bytes` between them for later requests that begin
    /// with the same tokens (0: none).
    pub fn set_prefix_cache(&mut self, bytes: usize) {
        self.prefixes = Arc::new(Mutex::new(Prefixes::new(bytes)));
    }

    /// The prompts' cache, to read its figures from another thread.
    pub fn prefixes(&self) -> Arc<Mutex<Prefixes>> {
        self.prefixes.clone()
    }

    /// What the prompts' cache holds and has saved.
    pub fn prefix_cache(&self) -> Stats {
        self.prefixes.lock().unwrap_or_else(PoisonError::into_inner).stats()
    }

    /// One short generation, so that the first request does not pay for first touches.
    pub fn warm_up(&self) {
        let params = app::model::SamplingParams { temperature: 0.0, max_tokens: 1, ..Default::default() };
        let request = GenerationRequest {
            messages: vec![app::model::ChatMessage::new("user", "Hi")],
            params,
            n: 1,
            trim_oldest: false,
            stops: Default::default(),
        };
        if let Err(err) = self.generate(&request, &mut |_| true) {
            tracing::warn!(%err, "model warm-up failed");
        }
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

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// What a reward model reads of each reply to `messages`: the hidden state after the
    /// reply's end-of-turn token, at each of `layers` (`[reply][layer]`, see
    /// `Model::hidden`). The conversation goes through the chat template, its oldest tokens
    /// left out past `max_prompt`; a reply is cut to `max_reply` tokens, its end-of-turn
    /// token included. The prompt runs once and the replies, sharing its cache, as one batch.
    pub fn reply_states(
        &self,
        messages: &[app::model::ChatMessage],
        replies: &[String],
        layers: &[usize],
        limits: (usize, usize),
    ) -> Result<Vec<Vec<Vec<f32>>>, String> {
        let (prompt, tokens) = self.reply_tokens(messages, replies, limits)?;
        self.token_states(&prompt, &tokens, layers)
    }

    /// `reply_states` of tokens `reply_tokens` gave.
    pub fn token_states(
        &self,
        prompt: &[u32],
        tokens: &[Vec<u32>],
        layers: &[usize],
    ) -> Result<Vec<Vec<Vec<f32>>>, String> {
        let mut prefix = self.model.sequence(prompt.len());
        if !prompt.is_empty() {
            self.model.hidden(&mut [Item { sequence: &mut prefix, tokens: prompt }], layers)?;
        }
        let prefix = prefix.into_prefix();
        let mut sequences: Vec<Sequence> = tokens.iter().map(|t| self.model.fork(&prefix, t.len())).collect();
        let mut items: Vec<Item<'_>> =
            sequences.iter_mut().zip(tokens).map(|(sequence, tokens)| Item { sequence, tokens }).collect();
        self.model.hidden(&mut items, layers)
    }

    /// The tokens `reply_states` reads: the prompt's, and each reply's.
    pub fn reply_tokens(
        &self,
        messages: &[app::model::ChatMessage],
        replies: &[String],
        (max_prompt, max_reply): (usize, usize),
    ) -> Result<(Vec<u32>, Vec<Vec<u32>>), String> {
        let mut prompt = self.encode(&self.template.render(messages)?)?;
        if prompt.len() > max_prompt {
            prompt.drain(..prompt.len() - max_prompt);
        }
        let end = *self.stop_token_ids.first().ok_or("the model names no end-of-turn token")?;
        let tokens: Vec<Vec<u32>> = replies
            .iter()
            .map(|reply| {
                let mut tokens = self.encode(reply)?;
                tokens.truncate(max_reply.max(1) - 1);
                tokens.push(end);
                Ok(tokens)
            })
            .collect::<Result<_, String>>()?;
        Ok((prompt, tokens))
    }

    /// A sequence that decodes after `prefix` with room for `capacity` tokens: a sampled
    /// one sums its products by blocks, a greedy one as ggml does (`Sequence::sample_sums`).
    fn decoder(&self, prefix: &Prefix, capacity: usize, sampling: &Sampling) -> Sequence {
        let mut sequence = self.model.fork(prefix, capacity);
        if *sampling != Sampling::ArgMax {
            sequence.sample_sums();
        }
        sequence
    }

    /// Feeds `tokens` through a new sequence continuing `prefix` (empty: none): the
    /// sequence (the prefix its alternatives share) and the logits after the tokens.
    fn prefill(&self, prefix: &Prefix, tokens: &[u32]) -> Result<(Sequence, Vec<f32>), String> {
        let mut sequence = self.model.fork(prefix, tokens.len());
        let mut logits = self.model.forward(&mut [Item { sequence: &mut sequence, tokens }])?;
        Ok((sequence, logits.remove(0)))
    }

    /// The prompts through the model, each continuing the longest cached start of its
    /// tokens (all of them but the last at most: the logits after it are needed), in forward
    /// passes of up to `PREFILL_BATCH_TOKENS` tokens between them (one prompt longer than that
    /// goes alone). Each prompt's cache is then kept for later requests. For each prompt: its
    /// prefix, the logits after it, and how many of its tokens came from the cache.
    fn prefill_all(&self, prompts: &[&[u32]]) -> Result<Vec<(Prefix, Vec<f32>, usize)>, String> {
        let lock = || self.prefixes.lock().unwrap_or_else(PoisonError::into_inner);
        let cached: Vec<Prefix> =
            prompts.iter().map(|prompt| lock().find(prompt, prompt.len().saturating_sub(1))).collect();
        let mut done = Vec::with_capacity(prompts.len());
        let mut start = 0;
        while start < prompts.len() {
            // The next prompts whose uncached tokens fit in one pass (at least one prompt).
            let mut end = start + 1;
            let mut tokens = prompts[start].len() - cached[start].len();
            while end < prompts.len() {
                tokens += prompts[end].len() - cached[end].len();
                if tokens > PREFILL_BATCH_TOKENS {
                    break;
                }
                end += 1;
            }
            let group = start..end;
            let mut sequences: Vec<Sequence> = group
                .clone()
                .map(|i| self.model.fork(&cached[i], prompts[i].len() - cached[i].len()))
                .collect();
            let mut items: Vec<Item> = sequences
                .iter_mut()
                .zip(group.clone())
                .map(|(sequence, i)| Item { sequence, tokens: &prompts[i][cached[i].len()..] })
                .collect();
            let logits = self.model.forward(&mut items)?;
            for ((sequence, logits), i) in sequences.into_iter().zip(logits).zip(group) {
                let prefix = sequence.into_prefix();
                lock().insert(prompts[i].to_vec(), prefix.clone());
                tracing::debug!(prompt = prompts[i].len(), cached = cached[i].len(), "prefill");
                done.push((prefix, logits, cached[i].len()));
            }
            start = end;
        }
        Ok(done)
    }

    /// Runs one request to its end, sending events to `sink`. Errors are returned, not sent.
    pub fn generate(&self, request: &GenerationRequest, sink: &mut Sink<'_>) -> Result<(), String> {
        let Some(mut running) = self.begin(request, Box::new(sink))? else {
            return Ok(());
        };
        loop {
            self.draw(std::slice::from_mut(&mut running));
            if !self.sample(&mut running)? {
                break;
            }
            self.step(&mut [&mut running])?;
        }
        Ok(())
    }

    /// Starts a request: its prompt through the model (prefill) and `Started` sent. None
    /// when nobody listens any more.
    pub fn begin<'e, 's>(
        &'e self,
        request: &GenerationRequest,
        sink: Box<Sink<'s>>,
    ) -> Result<Option<Running<'e, 's>>, String> {
        self.begin_all(vec![(request, sink)]).pop().unwrap_or(Ok(None))
    }

    /// `begin` for requests that arrived together: their prompts go through the model in one
    /// forward pass (`prefill_all`). Each request's own result, in order: a request whose
    /// prompt is refused fails alone; a failed pass fails all of them.
    pub fn begin_all<'e, 's>(
        &'e self,
        requests: Vec<(&GenerationRequest, Box<Sink<'s>>)>,
    ) -> Vec<Result<Option<Running<'e, 's>>, String>> {
        let prompts: Vec<Result<(Vec<u32>, usize), String>> =
            requests.iter().map(|(request, _)| self.prompt(request)).collect();
        let tokens: Vec<&[u32]> =
            prompts.iter().filter_map(|p| p.as_ref().ok()).map(|(t, _)| &t[..]).collect();
        let mut prefilled = match self.prefill_all(&tokens) {
            Ok(prefilled) => prefilled.into_iter(),
            Err(message) => return requests.iter().map(|_| Err(message.clone())).collect(),
        };
        requests
            .into_iter()
            .zip(prompts)
            .map(|((request, mut sink), prompt)| {
                let (prompt, trimmed) = prompt?;
                let (prefix, logits, cached_tokens) = prefilled.next().ok_or("a prompt was not prefilled")?;
                if !sink(GenerationEvent::Started { prompt_tokens: prompt.len(), cached_tokens, trimmed }) {
                    return Ok(None);
                }
                let params = &request.params;
                let how = sampling(params);
                let alternatives = (0..request.n)
                    .map(|index| Alternative {
                        index,
                        sequence: Some(self.decoder(&prefix, params.max_tokens, &how)),
                        sampler: Sampler::new(params.seed.wrapping_add(index as u64), how.clone()),
                        logits: logits.clone(),
                        next: None,
                        drawn: None,
                        text: TextStream::new(&self.tokenizer, &params.stop),
                    })
                    .collect();
                Ok(Some(Running {
                    alternatives,
                    max_tokens: params.max_tokens,
                    stops: request.stops.clone(),
                    sink,
                }))
            })
            .collect()
    }

    /// Draws the next token of every alternative of `requests` that goes on, the draws
    /// shared out among the model's threads; `sample` then takes them. Each is what it would
    /// be alone: the alternative's own seeded sampler on its own logits.
    pub fn draw(&self, requests: &mut [Running<'_, '_>]) {
        let mut going: Vec<&mut Alternative> = requests
            .iter_mut()
            .flat_map(|running| running.alternatives.iter_mut())
            .filter(|alt| alt.sequence.is_some() && alt.drawn.is_none())
            .collect();
        let draws = draw_all(
            self.model.pool(),
            going.iter_mut().map(|alt| (&mut alt.sampler, &alt.logits[..])).collect(),
        );
        for (alt, drawn) in going.into_iter().zip(draws) {
            alt.drawn = Some(drawn);
        }
    }

    /// Samples the next token of each of the request's alternatives (one each in turn, so
    /// all K stream side by side) and sends their text. `false` when the request has ended:
    /// every alternative finished or was stopped, or nobody listens any more.
    pub fn sample(&self, running: &mut Running<'_, '_>) -> Result<bool, String> {
        let Running { alternatives, max_tokens, stops, sink } = running;
        for alt in alternatives.iter_mut().filter(|alt| alt.sequence.is_some()) {
            // A stopped alternative writes no more, and its KV cache goes at once.
            if stops.is_stopped(alt.index) {
                alt.sequence = None;
                continue;
            }
            let (text, finish) = alt.sample(self, *max_tokens)?;
            if !text.is_empty() && !sink(GenerationEvent::Delta { index: alt.index, text }) {
                return Ok(false);
            }
            if let Some(finish_reason) = finish {
                alt.sequence = None;
                let completion_tokens = alt.text.token_count();
                if !sink(GenerationEvent::Done { index: alt.index, finish_reason, completion_tokens }) {
                    return Ok(false);
                }
            }
        }
        Ok(alternatives.iter().any(|alt| alt.next.is_some()))
    }

    /// Feeds every sampled token of all `requests` to the model in one forward pass.
    pub fn step(&self, requests: &mut [&mut Running<'_, '_>]) -> Result<(), String> {
        let mut going: Vec<&mut Alternative> = requests
            .iter_mut()
            .flat_map(|running| running.alternatives.iter_mut())
            .filter(|alt| alt.sequence.is_some() && alt.next.is_some())
            .collect();
        if going.is_empty() {
            return Ok(());
        }
        let tokens: Vec<[u32; 1]> = going.iter().map(|alt| [alt.next.unwrap_or_default()]).collect();
        let (mut items, mut logits) = (vec![], vec![]);
        for (alt, token) in going.iter_mut().zip(&tokens) {
            let Alternative { sequence, logits: buffer, .. } = &mut **alt;
            if let Some(sequence) = sequence.as_mut() {
                items.push(Item { sequence, tokens: token });
                logits.push(buffer);
            }
        }
        self.model.forward_into(&mut items, &mut logits)?;
        for alt in going {
            alt.next = None;
        }
        Ok(())
    }
}

/// A request being generated: its alternatives, and where its events go.
pub struct Running<'e, 's> {
    alternatives: Vec<Alternative<'e>>,
    max_tokens: usize,
    stops: Stops,
    sink: Box<Sink<'s>>,
}

impl Running<'_, '_> {
    /// Sequences still being decoded.
    pub fn sequences(&self) -> usize {
        self.alternatives.iter().filter(|alt| alt.sequence.is_some()).count()
    }

    /// Tells the client the request failed (and ends it).
    pub fn fail(mut self, message: String) {
        (self.sink)(GenerationEvent::Failed { message });
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
    /// None once the alternative has ended (or was stopped).
    sequence: Option<Sequence>,
    sampler: Sampler,
    logits: Vec<f32>,
    /// The token sampled and not yet fed to the model.
    next: Option<u32>,
    /// The next token, drawn beside the other alternatives' (`Engine::draw`) and not yet
    /// taken by `sample`.
    drawn: Option<Result<u32, String>>,
    text: TextStream<'a>,
}

impl Alternative<'_> {
    /// Samples one token: the text it adds, and why the alternative ended if it did.
    fn sample(
        &mut self,
        engine: &Engine,
        max_tokens: usize,
    ) -> Result<(String, Option<FinishReason>), String> {
        let token = match self.drawn.take() {
            Some(drawn) => drawn?,
            None => self.sampler.sample(&self.logits)?,
        };
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
        self.next = Some(token);
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
        let start = Instant::now();
        let (base, logits) = self.prefill(&Prefix::default(), prompt)?;
        let prefill = start.elapsed();
        let prefix = base.into_prefix();
        let params = SamplingParams { temperature: 0.8, top_p: 0.95, top_k: 40, ..Default::default() };
        let mut forks: Vec<(Sequence, Sampler, Vec<f32>)> = (0..n)
            .map(|i| {
                let how = sampling(&params);
                (self.decoder(&prefix, new_tokens, &how), Sampler::new(i as u64, how), logits.clone())
            })
            .collect();
        let mut first_token = None;
        for step in 0..new_tokens {
            let draws = draw_all(
                self.model.pool(),
                forks.iter_mut().map(|(_, sampler, logits)| (sampler, &logits[..])).collect(),
            );
            let tokens = draws.into_iter().map(|token| token.map(|t| [t])).collect::<Result<Vec<_>, _>>()?;
            first_token.get_or_insert_with(|| start.elapsed());
            if step + 1 < new_tokens {
                let (mut items, mut logits): (Vec<Item>, Vec<&mut Vec<f32>>) = forks
                    .iter_mut()
                    .zip(&tokens)
                    .map(|((sequence, _, logits), token)| (Item { sequence, tokens: token }, logits))
                    .unzip();
                self.model.forward_into(&mut items, &mut logits)?;
            }
        }
        Ok(Timing { prefill, first_token: first_token.unwrap_or(prefill), total: start.elapsed() })
    }
}

/// A sampler, its logits, and the token it drew (once a thread has drawn it).
type Slot<'a> = Mutex<(&'a mut Sampler, &'a [f32], Option<Result<u32, String>>)>;

/// A token from each sampler on its logits, the samplers shared out among `pool`'s threads
/// (while one thread sampled them all, the others waited for the next forward pass).
fn draw_all(pool: &Pool, draws: Vec<(&mut Sampler, &[f32])>) -> Vec<Result<u32, String>> {
    let slots: Vec<Slot> =
        draws.into_iter().map(|(sampler, logits)| Mutex::new((sampler, logits, None))).collect();
    pool.run(slots.len(), &|i| {
        let mut slot = slots[i].lock().unwrap_or_else(PoisonError::into_inner);
        let (sampler, logits, drawn) = &mut *slot;
        *drawn = Some(sampler.sample(logits));
    });
    slots
        .into_iter()
        .map(|slot| {
            let (_, _, drawn) = slot.into_inner().unwrap_or_else(PoisonError::into_inner);
            drawn.unwrap_or_else(|| Err("a token was not drawn".into()))
        })
        .collect()
}

//! The model worker: one OS thread owns the engine and takes requests from a bounded queue.
//! A full queue is refused at once (the HTTP layer answers 429 with Retry-After); a request
//! whose receiver is gone is skipped, or stopped at its next token.

use super::Engine;
use app::model::{MAX_ALTERNATIVES, ModelInfo};
use app::ssr::model::{GenerationEvent, GenerationRequest, LanguageModel, ModelError};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use tokio::sync::mpsc;

/// Events buffered per request before the worker waits for a slow reader.
const EVENT_BUFFER: usize = 64;
/// What a refused request is told: roughly one queued generation's time.
const RETRY_AFTER_SECS: u64 = 5;

struct Job {
    request: GenerationRequest,
    events: mpsc::Sender<GenerationEvent>,
}

pub struct LocalModel {
    queue: SyncSender<Job>,
    info: ModelInfo,
    ready: Arc<AtomicBool>,
}

impl LocalModel {
    /// Starts the worker thread. It warms the model up (one short generation) before it
    /// reports ready; requests queued meanwhile wait.
    pub fn start(engine: Engine, queue_capacity: usize) -> LocalModel {
        let (queue, jobs) = sync_channel::<Job>(queue_capacity);
        let ready = Arc::new(AtomicBool::new(false));
        let info = engine.info.clone();
        let worker_ready = ready.clone();
        let spawned = std::thread::Builder::new().name("parley-model".into()).spawn(move || {
            warm_up(&engine);
            worker_ready.store(true, Ordering::Release);
            tracing::info!(model = %engine.info.name, "model ready");
            for job in jobs {
                run(&engine, job);
            }
        });
        if let Err(err) = spawned {
            tracing::error!(%err, "cannot start the model thread");
        }
        LocalModel { queue, info, ready }
    }
}

fn warm_up(engine: &Engine) {
    let params = app::model::SamplingParams { temperature: 0.0, max_tokens: 1, ..Default::default() };
    let request = GenerationRequest {
        messages: vec![app::model::ChatMessage::new("user", "Hi")],
        params,
        n: 1,
        trim_oldest: false,
        stops: Default::default(),
    };
    if let Err(err) = engine.generate(&request, &mut |_| true) {
        tracing::warn!(%err, "model warm-up failed");
    }
}

fn run(engine: &Engine, job: Job) {
    if job.events.is_closed() {
        return;
    }
    let events = job.events;
    let mut sink = |event| events.blocking_send(event).is_ok();
    if let Err(message) = engine.generate(&job.request, &mut sink) {
        let _ = events.blocking_send(GenerationEvent::Failed { message });
    }
}

/// Checks a request before it takes a place in the queue.
pub fn check_request(request: &GenerationRequest) -> Result<(), ModelError> {
    request.params.check().map_err(|(field, message)| ModelError::Invalid { field, message })?;
    if !(1..=MAX_ALTERNATIVES).contains(&request.n) {
        return Err(ModelError::Invalid {
            field: "n",
            message: format!("n must be between 1 and {MAX_ALTERNATIVES}"),
        });
    }
    if request.messages.is_empty() {
        return Err(ModelError::Invalid { field: "messages", message: "messages must not be empty".into() });
    }
    Ok(())
}

#[async_trait]
impl LanguageModel for LocalModel {
    fn info(&self) -> ModelInfo {
        ModelInfo { ready: self.ready.load(Ordering::Acquire), ..self.info.clone() }
    }

    async fn generate(
        &self,
        request: GenerationRequest,
    ) -> Result<mpsc::Receiver<GenerationEvent>, ModelError> {
        check_request(&request)?;
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        match self.queue.try_send(Job { request, events }) {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) => Err(ModelError::Busy { retry_after_secs: RETRY_AFTER_SECS }),
            Err(TrySendError::Disconnected(_)) => {
                Err(ModelError::Failed("the model thread has stopped".into()))
            }
        }
    }
}

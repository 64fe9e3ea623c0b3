//! The model worker: one OS thread owns the engine and takes requests from a bounded queue.
//! Requests run batched, as TGI's router and vLLM run them: one that arrives while others
//! decode joins them after its prefill (requests that arrive together are prefilled in one
//! forward pass), every step is one forward pass for all their sequences, and a finished or
//! abandoned request leaves at once. Up to `MAX_SEQUENCES`
//! sequences run together; further requests wait in the queue, and a full queue is refused
//! at once (the HTTP layer answers 429 with Retry-After). A request whose receiver is gone
//! is skipped, or stopped at its next token.

use super::Engine;
use super::engine::{Running, Sink};
use super::prefixes::{Prefixes, Stats};
use app::model::{MAX_ALTERNATIVES, ModelInfo};
use app::ssr::model::{GenerationEvent, GenerationRequest, LanguageModel, ModelError};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// Events buffered per request before the worker waits for a slow reader.
const EVENT_BUFFER: usize = 64;
/// What a refused request is told: roughly one queued generation's time.
const RETRY_AFTER_SECS: u64 = 5;
/// Sequences (alternatives of all running requests) decoded together at most: a bound on
/// the KV caches held and on how long one step makes every running request wait.
pub const MAX_SEQUENCES: usize = 16;

struct Job {
    request: GenerationRequest,
    events: mpsc::Sender<GenerationEvent>,
}

pub struct LocalModel {
    queue: SyncSender<Job>,
    info: ModelInfo,
    ready: Arc<AtomicBool>,
    prefixes: Arc<Mutex<Prefixes>>,
}

impl LocalModel {
    /// Starts the worker thread. It warms the model up (one short generation) before it
    /// reports ready; requests queued meanwhile wait.
    pub fn start(engine: Engine, queue_capacity: usize) -> LocalModel {
        let (queue, jobs) = sync_channel::<Job>(queue_capacity);
        let ready = Arc::new(AtomicBool::new(false));
        let info = engine.info.clone();
        let prefixes = engine.prefixes();
        let worker_ready = ready.clone();
        let spawned = std::thread::Builder::new().name("parley-model".into()).spawn(move || {
            engine.warm_up();
            worker_ready.store(true, Ordering::Release);
            tracing::info!(model = %engine.info.name, "model ready");
            serve(&engine, &jobs);
        });
        if let Err(err) = spawned {
            tracing::error!(%err, "cannot start the model thread");
        }
        LocalModel { queue, info, ready, prefixes }
    }

    /// What the engine's prompts' cache holds and has saved.
    pub fn prefix_cache(&self) -> Stats {
        self.prefixes.lock().unwrap_or_else(PoisonError::into_inner).stats()
    }
}

/// Takes the jobs waiting in the queue while there is room in the batch, starts them
/// together, and steps the batch.
fn serve(engine: &Engine, jobs: &Receiver<Job>) {
    let mut running: Vec<Running> = vec![];
    let mut waiting: Option<Job> = None;
    loop {
        let mut room = MAX_SEQUENCES.saturating_sub(running.iter().map(Running::sequences).sum());
        let mut arrived: Vec<Job> = vec![];
        loop {
            let idle = running.is_empty() && arrived.is_empty();
            let job = match waiting.take() {
                Some(job) => job,
                None if idle => match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                },
                None => match jobs.try_recv() {
                    Ok(job) => job,
                    Err(_) => break,
                },
            };
            // One request too big for the room left waits for the batch to shrink, unless
            // nothing else runs.
            if !idle && job.request.n > room {
                waiting = Some(job);
                break;
            }
            room = room.saturating_sub(job.request.n);
            arrived.push(job);
        }
        running.extend(begin(engine, arrived));
        if running.is_empty() {
            continue;
        }
        engine.draw(&mut running);
        running = running
            .into_iter()
            .filter_map(|mut r| match engine.sample(&mut r) {
                Ok(true) => Some(r),
                Ok(false) => None,
                Err(message) => {
                    r.fail(message);
                    None
                }
            })
            .collect();
        if running.is_empty() {
            continue;
        }
        let mut batch: Vec<&mut Running> = running.iter_mut().collect();
        if let Err(message) = engine.step(&mut batch) {
            for r in running.drain(..) {
                r.fail(message.clone());
            }
        }
    }
}

/// Prefills the jobs' prompts together; the requests that started. A job whose client has
/// gone is skipped; one that failed is told so.
fn begin<'e>(engine: &'e Engine, jobs: Vec<Job>) -> Vec<Running<'e, 'static>> {
    let jobs: Vec<Job> = jobs.into_iter().filter(|job| !job.events.is_closed()).collect();
    let requests = jobs
        .iter()
        .map(|job| {
            let events = job.events.clone();
            let sink: Box<Sink<'static>> = Box::new(move |event| events.blocking_send(event).is_ok());
            (&job.request, sink)
        })
        .collect();
    let started = engine.begin_all(requests);
    jobs.iter()
        .zip(started)
        .filter_map(|(job, started)| match started {
            Ok(running) => running,
            Err(message) => {
                let _ = job.events.blocking_send(GenerationEvent::Failed { message });
                None
            }
        })
        .collect()
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

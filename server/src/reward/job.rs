//! Runs started from the Admin -> Reward model page: trained in the background of the
//! instance that took the start, its progress and heartbeat written every second (and a
//! cancel asked of any instance read back then), the head saved under the data folder.

use super::{SavedHead, Watch, load_engine, pipeline, save};
use crate::model::engine::Engine;
use crate::store::SqlStore;
use crate::store::reward::StartRefused;
use app::dataset::ExportOptions;
use app::error::{ApiError, ErrorKind};
use app::reward::{RewardOptions, RewardRun, RunStatus};
use app::ssr::reward::RewardTrainer;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone)]
pub struct Trainer {
    store: SqlStore,
    /// The GGUF file whose features the heads read.
    model: PathBuf,
    /// Where each run's head goes: `<dir>/<run id>/`.
    dir: PathBuf,
    /// The base model and the last head that scored replies (for uncertainty draws), loaded
    /// at the first use.
    scorer: Arc<std::sync::Mutex<Scorer>>,
}

#[derive(Default)]
struct Scorer {
    engine: Option<(Engine, String)>,
    head: Option<(Uuid, SavedHead)>,
}

impl Scorer {
    /// Run `run`'s head and the base model it reads, loaded unless they are.
    fn ready(
        &mut self,
        model: &std::path::Path,
        dir: &std::path::Path,
        run: Uuid,
    ) -> anyhow::Result<(&Engine, &SavedHead)> {
        if self.head.as_ref().is_none_or(|(id, _)| *id != run) {
            self.head = Some((run, SavedHead::load(&dir.join(run.to_string()))?));
        }
        if self.engine.is_none() {
            self.engine = Some(load_engine(model, None)?);
        }
        let (Some((engine, sha256)), Some((_, head))) = (&self.engine, &self.head) else {
            unreachable!("both loaded above")
        };
        if head.base_model_sha256 != *sha256 {
            anyhow::bail!(
                "the reward model read a base model with SHA-256 {}, and this server has {} ({sha256})",
                head.base_model_sha256,
                model.display()
            );
        }
        Ok((engine, head))
    }
}

impl Trainer {
    pub fn new(store: SqlStore, model: PathBuf, dir: PathBuf) -> Trainer {
        Trainer { store, model, dir, scorer: Default::default() }
    }

    /// Runs `work` with run `run`'s head and its base model, on a blocking thread.
    async fn with_scorer<T: Send + 'static>(
        &self,
        run: Uuid,
        work: impl FnOnce(&Engine, &SavedHead) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let (scorer, model, dir) = (self.scorer.clone(), self.model.clone(), self.dir.clone());
        tokio::task::spawn_blocking(move || {
            let mut scorer = scorer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (engine, head) = scorer.ready(&model, &dir, run)?;
            work(engine, head)
        })
        .await
        .map_err(|err| format!("the reward model stopped: {err}"))?
        .map_err(|err| format!("{err:#}"))
    }

    fn spawn(&self, id: Uuid, options: RewardOptions) {
        let this = self.clone();
        tokio::spawn(async move {
            let (report, progress) = tokio::sync::watch::channel((0.0, "reading the pairs".to_string()));
            let cancel = Arc::new(AtomicBool::new(false));
            let beat = {
                let (store, cancel) = (this.store.clone(), cancel.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let (done, message) = progress.borrow().clone();
                        match store.reward_progress(id, done, &message).await {
                            Ok(asked) => cancel.fetch_or(asked, Ordering::Relaxed),
                            Err(err) => {
                                tracing::warn!(%err, "reward run: progress not written");
                                false
                            }
                        };
                    }
                })
            };
            let watch = Watch {
                report: Box::new(move |done, message| {
                    let _ = report.send((done, message));
                }),
                cancelled: {
                    let cancel = cancel.clone();
                    Box::new(move || cancel.load(Ordering::Relaxed))
                },
            };
            let selection = ExportOptions { source: options.source.clone(), ..Default::default() };
            let outcome = pipeline(&this.store, selection, &options, &this.model, None, watch, None).await;
            beat.abort();
            let finished = match outcome {
                Ok(trained) => {
                    let dir = this.dir.join(id.to_string());
                    match save(&dir, &trained, &options) {
                        Ok(()) => {
                            this.store.finish_reward_run(id, RunStatus::Done, "", Some(&trained.result)).await
                        }
                        Err(err) => {
                            let message = format!("the head could not be saved in {}: {err}", dir.display());
                            this.store.finish_reward_run(id, RunStatus::Failed, &message, None).await
                        }
                    }
                }
                Err(_) if cancel.load(Ordering::Relaxed) => {
                    this.store.finish_reward_run(id, RunStatus::Cancelled, "cancelled", None).await
                }
                Err(err) => {
                    this.store.finish_reward_run(id, RunStatus::Failed, &format!("{err:#}"), None).await
                }
            };
            if let Err(err) = finished {
                tracing::error!(%err, %id, "reward run: the outcome was not stored");
            }
        });
    }
}

#[async_trait::async_trait]
impl RewardTrainer for Trainer {
    async fn start(&self, id: Uuid, by: Uuid, options: RewardOptions) -> Result<RewardRun, ApiError> {
        match self.store.start_reward_run(id, by, &options).await {
            Ok((run, started)) => {
                if started {
                    self.spawn(id, options);
                }
                Ok(run)
            }
            Err(StartRefused::Busy) => Err(ApiError::new(
                ErrorKind::Conflict,
                "a run is under way: each reads every reply through the model, one at a time; wait for it or cancel it",
            )),
            Err(StartRefused::Store(err)) => Err(err.into()),
        }
    }

    async fn runs(&self) -> Result<Vec<RewardRun>, ApiError> {
        Ok(self.store.reward_runs().await?)
    }

    async fn cancel(&self, id: Uuid) -> Result<RewardRun, ApiError> {
        self.store
            .cancel_reward_run(id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "reward run not found"))
    }

    async fn unable_to_score(&self, run: Uuid) -> Option<String> {
        self.with_scorer(run, |_, _| Ok(())).await.err()
    }

    async fn uncertainty(
        &self,
        run: Uuid,
        context: Vec<app::model::ChatMessage>,
        replies: Vec<String>,
    ) -> Result<f64, String> {
        let scores =
            self.with_scorer(run, move |engine, head| head.scores(engine, &context, &replies)).await?;
        app::comparison::uncertainty(&scores)
            .ok_or_else(|| "fewer than two completions to tell apart".to_string())
    }
}

//! The quality figures (dashboard, each trainer's progress, the leaderboard) read every
//! ranking and run agreement statistics over them: too slow to do for every page view. Each
//! is computed once, kept, and served as kept; once it is `max_age` old, the next caller
//! still gets the kept figures at once while a background task computes new ones. Only the
//! first caller after start waits for a computation (and the server starts computing them
//! as it starts, see `warm`), and callers who ask at the same time share it. A computation
//! that takes long is not started again sooner than `SPACING` times its own time, so the
//! figures over a million rankings do not keep a core busy, and the background computations
//! run one at a time (each holds what it tallies: two at once would double the peak). With a
//! `max_age` of zero the figures are computed for each view (small teams, tests).

use crate::error::ApiError;
use crate::stats::Freshness;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A computation is started again no sooner than this many times what the last one took.
const SPACING: u32 = 10;

#[derive(Clone)]
struct Entry {
    made: Instant,
    /// How long its computation took.
    took: Duration,
    freshness: Freshness,
    value: Arc<dyn Any + Send + Sync>,
}

/// One kind of figures: the kept ones, and a lock held by whoever is computing new ones.
#[derive(Default)]
struct Slot {
    kept: Mutex<Option<Entry>>,
    computing: Arc<tokio::sync::Mutex<()>>,
}

pub struct FigureCache {
    max_age: Duration,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// Held by the background computation under way, of whichever figures.
    one_at_a_time: Arc<tokio::sync::Semaphore>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Slot {
    /// The kept figures, their freshness, and whether they are due to be computed again.
    fn kept<T: Clone + 'static>(&self, max_age: Duration) -> Option<(T, Freshness, bool)> {
        let kept = lock(&self.kept);
        let entry = kept.as_ref()?;
        let due = entry.made.elapsed() >= spacing(max_age, entry.took);
        Some((entry.value.downcast_ref::<T>()?.clone(), entry.freshness.clone(), due))
    }

    fn keep<T: Send + Sync + 'static>(&self, value: T, max_age: Duration, took: Duration) -> Freshness {
        let freshness = Freshness {
            computed_at: super::clock::now_rfc3339(),
            max_age_secs: spacing(max_age, took).as_secs(),
            took_ms: took.as_millis() as u64,
        };
        *lock(&self.kept) =
            Some(Entry { made: Instant::now(), took, freshness: freshness.clone(), value: Arc::new(value) });
        freshness
    }
}

/// How old kept figures get before they are computed again.
fn spacing(max_age: Duration, took: Duration) -> Duration {
    max_age.max(took * SPACING)
}

/// Runs `compute`, timing it.
async fn timed<T, Fut: Future<Output = Result<T, ApiError>>>(
    compute: Fut,
) -> Result<(T, Duration), ApiError> {
    let started = Instant::now();
    let value = compute.await?;
    Ok((value, started.elapsed()))
}

impl FigureCache {
    pub fn new(max_age: Duration) -> FigureCache {
        FigureCache {
            max_age,
            slots: Mutex::new(HashMap::new()),
            one_at_a_time: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// The figures under `key`, with when they were computed: the kept ones (and, when they
    /// are old, new ones computed by `compute` in the background), or on the first call the
    /// ones `compute` makes.
    pub async fn get<T, F, Fut>(&self, key: &str, compute: F) -> Result<(T, Freshness), ApiError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        if self.max_age.is_zero() {
            let (value, took) = timed(compute()).await?;
            let computed_at = super::clock::now_rfc3339();
            return Ok((value, Freshness { computed_at, max_age_secs: 0, took_ms: took.as_millis() as u64 }));
        }
        let slot = self.slot(key);
        if let Some((value, freshness, due)) = slot.kept::<T>(self.max_age) {
            if due && let Ok(computing) = slot.computing.clone().try_lock_owned() {
                let (slot, max_age, key) = (slot.clone(), self.max_age, key.to_string());
                let turn = self.one_at_a_time.clone();
                tokio::spawn(async move {
                    let _computing = computing;
                    let _turn = turn.acquire_owned().await;
                    match timed(compute()).await {
                        Ok((value, took)) => {
                            slot.keep(value, max_age, took);
                        }
                        Err(err) => tracing::warn!("the {key} figures could not be refreshed: {err}"),
                    }
                });
            }
            return Ok((value, freshness));
        }
        let _computing = slot.computing.lock().await;
        // Another caller (or the start's warm-up) may have computed them meanwhile.
        if let Some((value, freshness, _)) = slot.kept::<T>(self.max_age) {
            return Ok((value, freshness));
        }
        let (value, took) = timed(compute()).await?;
        let freshness = slot.keep(value.clone(), self.max_age, took);
        Ok((value, freshness))
    }

    /// Starts computing the figures under `key` now, in the background, so the first view
    /// after the server starts does not wait for all of it. Nothing with a `max_age` of zero.
    pub fn warm<T, F, Fut>(&self, key: &str, compute: F)
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        if self.max_age.is_zero() {
            return;
        }
        let slot = self.slot(key);
        let Ok(computing) = slot.computing.clone().try_lock_owned() else { return };
        let (max_age, key) = (self.max_age, key.to_string());
        let turn = self.one_at_a_time.clone();
        tokio::spawn(async move {
            let _computing = computing;
            let _turn = turn.acquire_owned().await;
            match timed(compute()).await {
                Ok((value, took)) => {
                    slot.keep(value, max_age, took);
                }
                Err(err) => tracing::warn!("the {key} figures could not be computed: {err}"),
            }
        });
    }

    fn slot(&self, key: &str) -> Arc<Slot> {
        lock(&self.slots).entry(key.to_string()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn callers_at_once_share_one_computation_until_it_is_old() {
        // 10 ms of work: spaced by its cost it is due again after 100 ms, sooner than 200.
        let cache = Arc::new(FigureCache::new(Duration::from_millis(200)));
        let runs = Arc::new(AtomicUsize::new(0));
        let ask = |cache: Arc<FigureCache>, runs: Arc<AtomicUsize>| async move {
            cache
                .get("dashboard", move || async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Ok::<usize, ApiError>(runs.fetch_add(1, Ordering::SeqCst) + 1)
                })
                .await
                .unwrap()
        };
        let callers: Vec<_> = (0..20).map(|_| tokio::spawn(ask(cache.clone(), runs.clone()))).collect();
        let mut answers = vec![];
        for caller in callers {
            answers.push(caller.await.unwrap());
        }
        assert!(answers.iter().all(|(n, _)| *n == 1), "20 callers, one computation");
        assert_eq!(answers[0].1.max_age_secs, 0);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let old = ask(cache.clone(), runs.clone()).await;
        assert_eq!(old.0, 1, "once old, the kept figures are served at once");
        assert_eq!(old.1, answers[0].1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "and computed again in the background, once");
        let new = ask(cache.clone(), runs.clone()).await;
        assert_eq!(new.0, 2, "the next caller gets the new figures");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_warm_up_is_shared_by_the_first_view_and_zero_means_every_view() {
        let cache = FigureCache::new(Duration::from_secs(30));
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = |runs: Arc<AtomicUsize>| {
            move || async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<usize, ApiError>(runs.fetch_add(1, Ordering::SeqCst) + 1)
            }
        };
        cache.warm("dashboard", counted(runs.clone()));
        tokio::task::yield_now().await;
        let (first, _) = cache.get("dashboard", counted(runs.clone())).await.unwrap();
        assert_eq!((first, runs.load(Ordering::SeqCst)), (1, 1), "the first view waited for the warm-up");

        let every = FigureCache::new(Duration::ZERO);
        every.warm("dashboard", counted(runs.clone()));
        tokio::task::yield_now().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "no warm-up with a max age of zero");
        let (a, fa) = every.get("dashboard", counted(runs.clone())).await.unwrap();
        let (b, _) = every.get("dashboard", counted(runs.clone())).await.unwrap();
        assert_eq!((a, b, fa.max_age_secs), (2, 3, 0), "each view computes");
    }

    #[test]
    fn a_slow_computation_is_spaced_out() {
        assert_eq!(spacing(Duration::from_secs(30), Duration::from_millis(200)), Duration::from_secs(30));
        assert_eq!(spacing(Duration::from_secs(30), Duration::from_secs(12)), Duration::from_secs(120));
    }
}

//! The quality figures (dashboard, each trainer's progress, the leaderboard) read every
//! ranking and run agreement statistics over them: too slow to do for every page view. Each
//! is computed once, kept, and served as kept; once it is `max_age` old, the next caller
//! still gets the kept figures at once while a background task computes new ones. Only the
//! first caller after start waits for a computation, and callers who ask at the same time
//! share it.

use crate::error::ApiError;
use crate::stats::Freshness;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Entry {
    made: Instant,
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
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Slot {
    fn kept<T: Clone + 'static>(&self) -> Option<(T, Freshness, Instant)> {
        let kept = lock(&self.kept);
        let entry = kept.as_ref()?;
        Some((entry.value.downcast_ref::<T>()?.clone(), entry.freshness.clone(), entry.made))
    }

    fn keep<T: Send + Sync + 'static>(&self, value: T, max_age: Duration) -> Freshness {
        let freshness = Freshness { computed_at: super::clock::now_rfc3339(), max_age_secs: max_age.as_secs() };
        *lock(&self.kept) = Some(Entry { made: Instant::now(), freshness: freshness.clone(), value: Arc::new(value) });
        freshness
    }
}

impl FigureCache {
    pub fn new(max_age: Duration) -> FigureCache {
        FigureCache { max_age, slots: Mutex::new(HashMap::new()) }
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
        let slot = lock(&self.slots).entry(key.to_string()).or_default().clone();
        if let Some((value, freshness, made)) = slot.kept::<T>() {
            if made.elapsed() >= self.max_age
                && let Ok(computing) = slot.computing.clone().try_lock_owned()
            {
                let (slot, max_age, key) = (slot.clone(), self.max_age, key.to_string());
                tokio::spawn(async move {
                    let _computing = computing;
                    match compute().await {
                        Ok(value) => {
                            slot.keep(value, max_age);
                        }
                        Err(err) => tracing::warn!("the {key} figures could not be refreshed: {err}"),
                    }
                });
            }
            return Ok((value, freshness));
        }
        let _computing = slot.computing.lock().await;
        // Another caller may have computed them while this one waited.
        if let Some((value, freshness, _)) = slot.kept::<T>() {
            return Ok((value, freshness));
        }
        let value = compute().await?;
        let freshness = slot.keep(value.clone(), self.max_age);
        Ok((value, freshness))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn callers_at_once_share_one_computation_until_it_is_old() {
        let cache = Arc::new(FigureCache::new(Duration::from_millis(200)));
        let runs = Arc::new(AtomicUsize::new(0));
        let ask = |cache: Arc<FigureCache>, runs: Arc<AtomicUsize>| async move {
            cache
                .get("dashboard", move || async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
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
}

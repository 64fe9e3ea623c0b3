//! The quality figures (dashboard, each trainer's progress, the leaderboard) read every
//! ranking and run agreement statistics over them: too slow to do for every page view. Each
//! is kept here once computed and served until it is `max_age` old; while one caller
//! computes it, others asking for the same figures wait for that result instead of
//! computing their own.

use crate::error::ApiError;
use crate::stats::Freshness;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

struct Entry {
    made: Instant,
    freshness: Freshness,
    value: Arc<dyn Any + Send + Sync>,
}

pub struct FigureCache {
    max_age: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl FigureCache {
    pub fn new(max_age: Duration) -> FigureCache {
        FigureCache { max_age, slots: Mutex::new(HashMap::new()) }
    }

    /// The figures under `key`: the kept ones while young enough, else what `compute`
    /// makes (then kept), with when they were computed.
    pub async fn get<T, F, Fut>(&self, key: &str, compute: F) -> Result<(T, Freshness), ApiError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            slots.entry(key.to_string()).or_default().clone()
        };
        let mut entry = slot.lock().await;
        if let Some(kept) = entry.as_ref()
            && kept.made.elapsed() < self.max_age
            && let Some(value) = kept.value.downcast_ref::<T>()
        {
            return Ok((value.clone(), kept.freshness.clone()));
        }
        let value = compute().await?;
        let freshness =
            Freshness { computed_at: super::clock::now_rfc3339(), max_age_secs: self.max_age.as_secs() };
        *entry = Some(Entry { made: Instant::now(), freshness: freshness.clone(), value: Arc::new(value.clone()) });
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
                .get("dashboard", || async {
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
        assert_eq!(ask(cache.clone(), runs.clone()).await.0, 2, "recomputed once old");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}

//! Reward models (admins): start a training run in the background, list the runs with their
//! progress and figures, cancel one.

use crate::error::ApiError;
use crate::reward::RewardRun;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
fn trainer() -> Result<std::sync::Arc<dyn crate::ssr::reward::RewardTrainer>, ApiError> {
    crate::ssr::state()?.reward.ok_or_else(|| {
        ApiError::new(
            crate::error::ErrorKind::Unavailable,
            "reward models are trained on the model file Parley serves; this server has none (--model)",
        )
    })
}

/// Starts training a reward model on the ranked comparisons of `source` (empty: all),
/// split by conversation with `split_seed` and `test_ratio` as the export splits, with a head
/// on each of `layers` (comma-separated). `request_id` is the run's id: a double-clicked
/// start makes one run.
#[server(endpoint = "reward/start")]
pub async fn start_reward_run(
    request_id: Uuid,
    #[server(default)] source: String,
    split_seed: u64,
    test_ratio: f64,
    layers: String,
    #[server(default)] limit: String,
) -> Result<RewardRun, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::reward::RewardOptions;
    let user = crate::ssr::require(Role::Admin).await?;
    let invalid = |field: &str, message: String| ApiError::field(ErrorKind::Invalid, field, message);
    if !(0.05..=0.5).contains(&test_ratio) {
        return Err(invalid("test_ratio", "the test share is between 0.05 and 0.5".into()));
    }
    let layers: Vec<usize> = layers
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().map_err(|_| invalid("layers", format!("{l:?} is not a layer number"))))
        .collect::<Result<_, _>>()?;
    if layers.is_empty() || layers.len() > 8 || layers.contains(&0) {
        return Err(invalid("layers", "one to eight layers, counted from 1".into()));
    }
    let limit = match limit.trim() {
        "" => None,
        text => Some(text.parse::<usize>().ok().filter(|n| *n >= 10).ok_or_else(|| {
            invalid("limit", "at most this many comparisons: a whole number, 10 or more".into())
        })?),
    };
    let source = Some(source.trim().to_string()).filter(|s| !s.is_empty());
    let options = RewardOptions { source, split_seed, test_ratio, layers, limit, ..RewardOptions::default() };
    trainer()?.start(request_id, user.id, options).await
}

#[server(endpoint = "reward/runs")]
pub async fn reward_runs() -> Result<Vec<RewardRun>, ApiError> {
    crate::ssr::require(crate::domain::Role::Admin).await?;
    trainer()?.runs().await
}

#[server(endpoint = "reward/cancel")]
pub async fn cancel_reward_run(id: Uuid) -> Result<RewardRun, ApiError> {
    crate::ssr::require(crate::domain::Role::Admin).await?;
    trainer()?.cancel(id).await
}

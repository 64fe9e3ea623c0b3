//! The background sampler: samples the K completions of each pending comparison with the
//! active model, one comparison at a time, and stores them with what reproduces them. Every
//! server instance that runs a model runs one; a claim in the store (with an end, so that a
//! crashed server's work returns) keeps two from sampling the same comparison.

use app::comparison::Completion;
use app::model::{MAX_ALTERNATIVES, finish_text};
use app::ssr::clock::{now_rfc3339, rfc3339_in};
use app::ssr::content_filter::FilterState;
use app::ssr::model::{GenerationRequest, ModelError, ModelSet, collect};
use app::ssr::reward::RewardTrainer;
use app::ssr::{PendingComparison, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// How long a claim lasts: far longer than sampling one comparison takes.
const CLAIM_SECS: i64 = 600;
/// How often an idle sampler looks for work that another server queued.
const POLL: Duration = Duration::from_secs(10);

/// Starts the sampler on this server, if it runs a model. `wake` makes it look at once.
/// `reward` scores the completions of batches drawn by a reward model's uncertainty.
pub fn spawn(
    store: Arc<dyn Store>,
    models: Arc<ModelSet>,
    filter: Arc<FilterState>,
    reward: Option<Arc<dyn RewardTrainer>>,
    wake: Arc<Notify>,
) {
    if models.served.is_empty() {
        return;
    }
    tokio::spawn(async move {
        loop {
            match store.claim_pending_comparison(&now_rfc3339(), &rfc3339_in(CLAIM_SECS)).await {
                Ok(Some(pending)) => {
                    sample(store.as_ref(), &models, &filter, reward.as_deref(), pending).await
                }
                Ok(None) => {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot claim a pending comparison");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
}

/// The seed of a comparison's first sampled completion; completion `i` uses `seed + i`.
pub fn comparison_seed(batch_seed: u64, position: i64) -> u64 {
    batch_seed.wrapping_add(position as u64 * MAX_ALTERNATIVES as u64)
}

async fn sample(
    store: &dyn Store,
    models: &ModelSet,
    filter: &FilterState,
    reward: Option<&dyn RewardTrainer>,
    pending: PendingComparison,
) {
    let id = pending.id;
    loop {
        match completions(store, models, filter, reward, &pending).await {
            Ok((context, completions, uncertainty)) => {
                if let Err(err) = store.save_completions(id, &context, completions, uncertainty).await {
                    tracing::warn!(%err, comparison = %id, "cannot store the completions");
                }
                return;
            }
            // The queue is full of interactive work: theirs first, then try again.
            Err(Failure::Busy(secs)) => tokio::time::sleep(Duration::from_secs(secs)).await,
            Err(Failure::Failed(reason)) => {
                tracing::warn!(%reason, comparison = %id, "sampling a comparison failed");
                if let Err(err) = store.fail_comparison(id, &reason).await {
                    tracing::warn!(%err, comparison = %id, "cannot mark the comparison failed");
                }
                return;
            }
        }
    }
}

enum Failure {
    Busy(u64),
    Failed(String),
}

/// The context, the completions, and (for a batch drawn by uncertainty) how unsure the
/// reward model is of their order.
async fn completions(
    store: &dyn Store,
    models: &ModelSet,
    filter: &FilterState,
    reward: Option<&dyn RewardTrainer>,
    pending: &PendingComparison,
) -> Result<(Vec<app::model::ChatMessage>, Vec<Completion>, Option<f64>), Failure> {
    let failed = |err: app::ssr::StoreError| Failure::Failed(err.to_string());
    let served = models.active(store).await.map_err(failed)?.ok_or(Failure::Busy(POLL.as_secs()))?;
    let conversation = store
        .conversation(pending.conversation_id)
        .await
        .map_err(failed)?
        .ok_or_else(|| Failure::Failed("the conversation is gone".into()))?;
    let original = conversation
        .messages
        .iter()
        .find(|m| m.id == pending.message_id)
        .ok_or_else(|| Failure::Failed("the drawn message is gone".into()))?;
    // What the model is given passes the filter first: an imported prompt drawn here, or a
    // chat's turns, like any turn a trainer sends.
    let after = conversation.compared_after(original.id);
    if let Some(blocked) = filter.first_blocked(store, &conversation, after).await.map_err(failed)? {
        return Err(Failure::Failed(blocked.message()));
    }
    let mut completions = vec![];
    // Ranked beside the drawn reply, the alternatives get the budget it had, so no length
    // gives the original away (a trainer's reply, with no budget, keeps the batch's).
    let mut budget = pending.sampling.max_tokens;
    if pending.include_original && original.role != app::conversation::Role::User {
        let (model_version_id, sampling) = match &original.author {
            app::conversation::Author::Model { model_version_id, sampling } => {
                budget = sampling.max_tokens;
                (Some(*model_version_id), Some(sampling.clone()))
            }
            app::conversation::Author::Trainer { .. } => (None, None),
        };
        completions.push(Completion {
            id: Uuid::new_v4(),
            text: original.text.clone(),
            message_id: Some(original.id),
            model_version_id,
            sampling,
            finish_reason: "stop".into(),
        });
    }
    let n = pending.k as usize - completions.len();
    let params = app::model::SamplingParams {
        seed: comparison_seed(pending.batch_seed, pending.position),
        max_tokens: budget,
        ..pending.sampling.clone()
    };
    let context = conversation.chat_messages(after);
    let request = GenerationRequest {
        messages: context.clone(),
        params: params.clone(),
        n,
        trim_oldest: true,
        stops: Default::default(),
    };
    let events = match served.model.generate(request).await {
        Ok(events) => events,
        Err(ModelError::Busy { retry_after_secs }) => return Err(Failure::Busy(retry_after_secs)),
        Err(err) => return Err(Failure::Failed(err.to_string())),
    };
    let collected = collect(events, n).await.map_err(|err| Failure::Failed(err.to_string()))?;
    for (i, (text, finish)) in collected.texts.into_iter().zip(collected.finish).enumerate() {
        completions.push(Completion {
            id: Uuid::new_v4(),
            // PostgreSQL text cannot hold a NUL.
            text: text.replace('\0', ""),
            message_id: None,
            model_version_id: Some(served.version),
            sampling: Some(app::model::SamplingParams { seed: params.seed + i as u64, ..params.clone() }),
            finish_reason: finish_text(finish).into(),
        });
    }
    let Some(run) = pending.reward_run_id else { return Ok((context, completions, None)) };
    let reward = reward.ok_or_else(|| {
        Failure::Failed(
            "the batch is drawn by a reward model's uncertainty, and this server trains none".into(),
        )
    })?;
    let texts = completions.iter().map(|c| c.text.clone()).collect();
    let uncertainty = reward
        .uncertainty(run, context.clone(), texts)
        .await
        .map_err(|err| Failure::Failed(format!("the reward model could not score it: {err}")))?;
    Ok((context, completions, Some(uncertainty)))
}

#[cfg(test)]
mod tests {
    use super::comparison_seed;

    #[test]
    fn comparisons_of_one_batch_never_share_a_seed() {
        let seeds: Vec<u64> =
            (0..100).flat_map(|p| (0..9).map(move |i| comparison_seed(42, p) + i)).collect();
        let mut unique = seeds.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
    }
}

// The form's fields are the function's arguments, one each.
#![allow(clippy::too_many_arguments)]

use crate::comparison::BatchProgress;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// An admin creates a batch of comparisons: `size` model-written chat replies drawn at random
/// (with `seed`, or a fresh one that is recorded), each to be ranked among `k` completions of
/// its context by `overlap` different trainers. With `from_prompts`, imported prompts that
/// have no reply yet are drawn instead, and all `k` completions of each are sampled. The completions are sampled in the
/// background; the batch's progress shows them arrive. With `by_uncertainty`, a pool of
/// `POOL_FACTOR` times `size` is drawn and sampled, the latest reward model scores each
/// one's completions, and the `size` it is least sure of join the rank queue (the others are
/// kept, passed over). `request_id` is the batch's id, so a double-clicked create makes one
/// batch.
#[server(endpoint = "rank/create_batch")]
pub async fn create_batch(
    request_id: Uuid,
    size: i64,
    k: i64,
    overlap: i64,
    #[server(default)] include_original: bool,
    #[server(default)] allow_own: bool,
    #[server(default)] from_prompts: bool,
    #[server(default)] by_uncertainty: bool,
    temperature: f64,
    max_tokens: usize,
    #[server(default)] seed: String,
) -> Result<BatchProgress, ApiError> {
    use crate::comparison::{MAX_BATCH, MAX_OVERLAP, POOL_FACTOR, UncertaintyDraw};
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ranking::{MAX_COMPLETIONS, MIN_COMPLETIONS};
    use crate::ssr::{NewComparison, NewComparisonBatch, require, state};
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let user = require(Role::Admin).await?;
    let state = state()?;
    let made = || async {
        Ok::<_, ApiError>(state.store.comparison_batches().await?.into_iter().find(|b| b.id == request_id))
    };
    if let Some(made) = made().await? {
        return Ok(made);
    }
    let invalid = |field: &str, message: String| ApiError::field(ErrorKind::Invalid, field, message);
    if !(1..=MAX_BATCH).contains(&size) {
        return Err(invalid("size", format!("a batch draws between 1 and {MAX_BATCH} messages")));
    }
    if !(MIN_COMPLETIONS as i64..=MAX_COMPLETIONS as i64).contains(&k) {
        return Err(invalid("k", format!("K must be between {MIN_COMPLETIONS} and {MAX_COMPLETIONS}")));
    }
    if !(1..=MAX_OVERLAP).contains(&overlap) {
        return Err(invalid(
            "overlap",
            format!("each comparison needs between 1 and {MAX_OVERLAP} rankings"),
        ));
    }
    let seed: u64 = match seed.trim() {
        "" => crate::model::random_seed(),
        text => text.parse().map_err(|_| invalid("seed", "the seed must be a whole number".into()))?,
    };
    let sampling = super::super::conversations::sampling(Some(temperature), Some(max_tokens))?;
    let sampling = crate::model::SamplingParams { seed, ..sampling };
    let uncertainty = if by_uncertainty {
        let field = "by_uncertainty";
        let trainer = state.reward.as_ref().ok_or_else(|| {
            invalid(
                field,
                "this server trains no reward model (it serves a remote engine), so none can score".into(),
            )
        })?;
        let run = state.store.latest_reward_run().await?.ok_or_else(|| {
            invalid(field, "no reward model is trained yet: train one on Admin → Reward model first".into())
        })?;
        if let Some(reason) = trainer.unable_to_score(run.id).await {
            return Err(invalid(field, format!("the latest reward model cannot score here: {reason}")));
        }
        Some(UncertaintyDraw { reward_run_id: run.id, keep: size })
    } else {
        None
    };
    // An uncertainty draw samples a pool, of which `size` join the queue.
    let draw = if uncertainty.is_some() { size * POOL_FACTOR } else { size } as usize;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let comparisons: Vec<NewComparison> = if from_prompts {
        let candidates = state.store.prompt_candidates().await?;
        if candidates.is_empty() {
            // A second click of this create may find the first one's draw took them all.
            if let Some(made) = made().await? {
                return Ok(made);
            }
            return Err(invalid(
                "from_prompts",
                "no imported prompts are left to draw from: import prompts on the Datasets page first".into(),
            ));
        }
        candidates
            .choose_multiple(&mut rng, draw)
            .enumerate()
            .map(|(position, prompt)| NewComparison {
                id: Uuid::new_v4(),
                position: position as i64,
                conversation_id: Uuid::new_v4(),
                message_id: Uuid::new_v4(),
                source_owner_id: user.id,
                prompt_id: Some(*prompt),
            })
            .collect()
    } else {
        let candidates = state.store.comparison_candidates().await?;
        if candidates.is_empty() {
            if let Some(made) = made().await? {
                return Ok(made);
            }
            return Err(invalid(
                "size",
                "no model-written chat replies are left to draw from: chat with the model first".into(),
            ));
        }
        candidates
            .choose_multiple(&mut rng, draw)
            .enumerate()
            .map(|(position, (conversation_id, message_id, owner))| NewComparison {
                id: Uuid::new_v4(),
                position: position as i64,
                conversation_id: *conversation_id,
                message_id: *message_id,
                source_owner_id: *owner,
                prompt_id: None,
            })
            .collect()
    };
    let batch = NewComparisonBatch {
        id: request_id,
        created_by: user.id,
        seed,
        k,
        overlap,
        // A prompt has no reply to include.
        include_original: include_original && !from_prompts,
        allow_own,
        from_prompts,
        sampling,
        uncertainty,
        comparisons,
    };
    state.store.create_comparison_batch(batch).await?;
    state.comparison_work.notify_waiters();
    state
        .store
        .comparison_batches()
        .await?
        .into_iter()
        .find(|b| b.id == request_id)
        .ok_or_else(ApiError::internal)
}

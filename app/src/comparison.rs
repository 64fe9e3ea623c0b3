//! Comparison tasks as the browser and the server share them: batches and their progress,
//! the completions of one comparison, a trainer's task, and submitted rankings.

use crate::conversation::Role;
use crate::model::SamplingParams;
use crate::ranking::Ranking;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Labels a trainer may put on a completion beside its rank.
pub const LABELS: [&str; 4] = ["helpful", "truthful", "harmless", "flagged"];
/// Completions per comparison when the admin does not say.
pub const DEFAULT_K: i64 = 4;
/// Most comparisons one batch draws, and most rankings one comparison may ask for.
pub const MAX_BATCH: i64 = 1000;
pub const MAX_OVERLAP: i64 = 10;
/// How long a trainer holds a comparison they were given, unless configured.
pub const DEFAULT_LEASE_SECS: u64 = 30 * 60;

/// What an admin asks for when creating a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSettings {
    /// How many model-written messages (or imported prompts) to draw.
    pub size: i64,
    /// Draw imported prompts that have no reply yet (all K completions sampled) instead of
    /// model-written chat replies.
    pub from_prompts: bool,
    /// Completions per comparison (2..=9).
    pub k: i64,
    /// Rankings each comparison needs, from different trainers.
    pub overlap: i64,
    /// The drawn message itself is one of the K.
    pub include_original: bool,
    /// Trainers may rank comparisons drawn from their own chats.
    pub allow_own: bool,
    pub temperature: f64,
    pub max_tokens: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            size: 10,
            from_prompts: false,
            k: DEFAULT_K,
            overlap: 1,
            include_original: true,
            allow_own: false,
            temperature: 0.9,
            max_tokens: 256,
        }
    }
}

/// A batch as the admin page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchProgress {
    pub id: Uuid,
    pub created_at: String,
    /// The seed of the draw and of the sampling, as text (JavaScript keeps 53 bits).
    pub seed: String,
    pub k: i64,
    pub overlap: i64,
    pub include_original: bool,
    pub allow_own: bool,
    /// Drawn from imported prompts rather than chat replies.
    #[serde(default)]
    pub from_prompts: bool,
    /// The source of the import whose preference rows made the batch (already ranked).
    #[serde(default)]
    pub imported: Option<String>,
    /// Drawn by a reward model's uncertainty: the run whose head scored the pool, and how
    /// many of the pool join the rank queue.
    #[serde(default)]
    pub uncertainty: Option<UncertaintyDraw>,
    pub comparisons: i64,
    /// Comparisons whose completions are still being sampled.
    pub pending: i64,
    /// Sampled and scored, waiting for the rest of the pool (uncertainty draws only).
    #[serde(default)]
    pub scored: i64,
    pub ready: i64,
    /// Sampled, and left out of the rank queue: the reward model was surer of them than of
    /// the ones kept (uncertainty draws only).
    #[serde(default)]
    pub passed: i64,
    pub failed: i64,
    /// The first failure's reason, if any failed.
    pub error: Option<String>,
    /// Rankings done and asked for (comparisons that can be ranked, failed ones not, × overlap).
    pub rankings_done: i64,
    pub rankings_wanted: i64,
}

/// A batch drawn by a reward model's uncertainty: it samples the completions of a pool of
/// comparisons drawn at random, `POOL_FACTOR` times the batch's size, and the `keep` whose
/// order the model is least sure of join the rank queue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UncertaintyDraw {
    pub reward_run_id: Uuid,
    pub keep: i64,
}

/// How many times a batch's size an uncertainty draw samples.
pub const POOL_FACTOR: i64 = 3;

/// How unsure a reward model is of the order of completions it scored `scores`: the mean
/// over their pairs of 1 - |2p - 1|, `p` the Bradley–Terry preference it predicts
/// (sigmoid of the score difference): 1 when it tells no pair apart, towards 0 as it is sure
/// of every pair. None for fewer than two scores.
pub fn uncertainty(scores: &[f32]) -> Option<f64> {
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for (i, a) in scores.iter().enumerate() {
        for b in &scores[i + 1..] {
            // 1 - |2p - 1| with p = sigmoid(d) is 2 sigmoid(-|d|): the same either way round.
            let apart = (f64::from(*a) - f64::from(*b)).abs();
            sum += 2.0 / (1.0 + apart.exp());
            pairs += 1;
        }
    }
    (pairs > 0).then(|| sum / pairs as f64)
}

/// One of a comparison's K completions, with what reproduces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub id: Uuid,
    pub text: String,
    /// The drawn message itself, when this completion is it.
    pub message_id: Option<Uuid>,
    pub model_version_id: Option<Uuid>,
    pub sampling: Option<SamplingParams>,
    pub finish_reason: String,
}

/// A turn of the context the completions continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextTurn {
    pub role: Role,
    pub text: String,
}

/// A completion as a trainer sees it: no hint of which one is the original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownCompletion {
    pub id: Uuid,
    pub text: String,
    /// The model reached the token limit before it finished (the page says so).
    #[serde(default)]
    pub cut_off: bool,
}

/// A board the trainer has not submitted yet: kept on the server as they work, so a
/// reload (or another machine) shows it again.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RankDraft {
    pub board: crate::ranking::Board,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<Uuid, Vec<String>>,
    #[serde(default)]
    pub rationale: String,
    #[serde(default)]
    pub cannot_rank: Option<String>,
}

impl RankDraft {
    /// Whether the draft's board (its places, then what is not placed) holds exactly these
    /// completions, each once, and its labels name only them.
    pub fn fits(&self, shown: &[Uuid]) -> bool {
        let mut placed = self.board.order();
        let mut shown = shown.to_vec();
        placed.sort();
        shown.sort();
        placed == shown && self.labels.keys().all(|id| shown.binary_search(id).is_ok())
    }
}

/// What the Rank page shows: one comparison to rank (or to revise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankTask {
    pub comparison_id: Uuid,
    /// When the caller's lease ends; none when revising a ranking already submitted.
    pub lease_expires_at: Option<String>,
    pub system_prompt: Option<String>,
    pub context: Vec<ContextTurn>,
    /// In this trainer's order (random, the same each time they open it).
    pub completions: Vec<ShownCompletion>,
    /// The caller's latest ranking of it, when revising.
    pub previous: Option<SubmittedRanking>,
    /// The caller's feedback on its completions.
    #[serde(default)]
    pub my_feedback: Vec<crate::feedback::Feedback>,
    /// The board the caller left unsubmitted, if any.
    #[serde(default)]
    pub draft: Option<RankDraft>,
}

/// A ranking as stored: one revision of one trainer's judgement of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmittedRanking {
    pub id: Uuid,
    pub comparison_id: Uuid,
    pub ranked_by: Uuid,
    pub revision: i64,
    /// None when the trainer could not rank.
    pub ranking: Option<Ranking>,
    pub cannot_rank: Option<String>,
    pub shown_order: Vec<Uuid>,
    pub labels: BTreeMap<Uuid, Vec<String>>,
    pub rationale: String,
    pub created_at: String,
}

/// The trainer's figures on the Rank page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RankProgress {
    pub done_today: i64,
    /// Comparisons this trainer could still be given, counted up to `COUNT_CAP + 1`: more
    /// than the cap when it is past it.
    pub queue_left: i64,
}

impl RankProgress {
    /// The most comparisons left that the Rank page counts exactly.
    pub const COUNT_CAP: i64 = 1000;

    /// How the Rank page says what is left.
    pub fn queue_left_text(&self) -> String {
        if self.queue_left > Self::COUNT_CAP {
            format!("more than {}", Self::COUNT_CAP)
        } else {
            self.queue_left.to_string()
        }
    }
}

/// A ranking the trainer submitted, as their list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedItem {
    pub comparison_id: Uuid,
    pub revision: i64,
    pub created_at: String,
    /// The last context turn, shortened.
    pub title: String,
    pub cannot_rank: bool,
}

/// The order a trainer sees a comparison's completions in: a shuffle seeded by the trainer
/// and the comparison, so it differs between trainers and stays put for one.
pub fn shown_order(trainer: Uuid, comparison: Uuid, ids: &[Uuid]) -> Vec<Uuid> {
    let (a, b) = trainer.as_u64_pair();
    let (c, d) = comparison.as_u64_pair();
    let mut state = a ^ b.rotate_left(17) ^ c.rotate_left(31) ^ d.rotate_left(47);
    let mut order = ids.to_vec();
    // Fisher–Yates with splitmix64: small, and the same on every platform.
    for i in (1..order.len()).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        order.swap(i, (z % (i as u64 + 1)) as usize);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_order_is_a_stable_permutation_that_differs_between_trainers() {
        let ids: Vec<Uuid> = (1..=6).map(Uuid::from_u128).collect();
        let comparison = Uuid::from_u128(77);
        let first = shown_order(Uuid::from_u128(1), comparison, &ids);
        assert_eq!(first, shown_order(Uuid::from_u128(1), comparison, &ids), "stable for one trainer");
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "a permutation");
        let differing =
            (2..40).filter(|t| shown_order(Uuid::from_u128(*t), comparison, &ids) != first).count();
        assert!(differing >= 30, "only {differing} of 38 trainers saw another order");
    }

    #[test]
    fn uncertainty_is_one_for_ties_and_falls_as_the_scores_part() {
        assert_eq!(uncertainty(&[0.3]), None, "one completion has no pair");
        assert_eq!(uncertainty(&[1.5, 1.5, 1.5]), Some(1.0));
        // One pair 2 apart: p = sigmoid(2) = 0.8808, 1 - |2p - 1| = 0.2384.
        let two = uncertainty(&[2.0, 0.0]).unwrap();
        assert!((two - 0.238_405_844).abs() < 1e-6, "{two}");
        assert_eq!(uncertainty(&[0.0, 2.0]), Some(two), "the order does not matter");
        // Three: pairs 0-1 tied (1), 0-2 and 1-2 2 apart (0.2384 each).
        let three = uncertainty(&[0.0, 0.0, 2.0]).unwrap();
        assert!((three - (1.0 + 2.0 * two) / 3.0).abs() < 1e-12, "{three}");
        assert!(uncertainty(&[0.0, 9.0]).unwrap() < 0.001, "far apart, nearly sure");
    }
}

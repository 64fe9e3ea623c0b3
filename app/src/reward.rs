//! Reward models trained in the studio on its own comparisons: what a run is asked for and
//! what it found, as the Admin -> Reward model page and the server share them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Layers offered by default: early ones, which read as well as later ones on HH-RLHF with
/// the default model (make bench-reward) at a fraction of the time.
pub const DEFAULT_LAYERS: &str = "4,8,12";

/// What a run trains on and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardOptions {
    /// Only conversations from this source (`parley`, or an import's source); all if none.
    pub source: Option<String>,
    /// The export's train/test split: by conversation, with this seed and test share.
    pub split_seed: u64,
    pub test_ratio: f64,
    /// Layers whose hidden state is a feature set; a head is trained on each.
    pub layers: Vec<usize>,
    pub max_prompt_tokens: usize,
    pub max_reply_tokens: usize,
    /// At most this many comparisons (the first by id).
    pub limit: Option<usize>,
}

impl Default for RewardOptions {
    fn default() -> Self {
        RewardOptions {
            source: None,
            split_seed: 7,
            test_ratio: 0.2,
            layers: vec![4, 8, 12],
            max_prompt_tokens: 256,
            max_reply_tokens: 128,
            limit: None,
        }
    }
}

crate::conversation::named_enum!(
    /// What a head reads of a reply at its layer: the hidden state after the reply's last
    /// (end-of-turn) token, or that and the mean over the reply's tokens side by side.
    Reading("reading") {
        Last = "last",
        LastAndMean = "last+mean",
    }
);

impl Default for Reading {
    /// Runs stored before readings were chosen read the last token.
    fn default() -> Self {
        Reading::Last
    }
}

impl Reading {
    /// What this reading takes of a state `Model::hidden` gives (the state after the last
    /// token, then the mean over the tokens): the first half, or all of it.
    pub fn of(self, state: &[f32]) -> &[f32] {
        match self {
            Reading::Last => &state[..state.len() / 2],
            Reading::LastAndMean => state,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Reading::Last => "last token",
            Reading::LastAndMean => "last token + mean",
        }
    }
}

/// One head's figures: validation accuracy (to choose by), held-out accuracy and its 95%
/// bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadFigures {
    pub label: String,
    pub layer: usize,
    #[serde(default)]
    pub reading: Reading,
    pub validation: f64,
    pub accuracy: f64,
    pub low: f64,
    pub high: f64,
    /// The step of the best validation loss (the head kept).
    pub steps: usize,
}

/// What a finished run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardResult {
    pub comparisons: usize,
    pub pairs_train: usize,
    pub pairs_test: usize,
    /// Every layer's head, then the control (labels flipped at random) on the best layer.
    pub heads: Vec<HeadFigures>,
    pub control: HeadFigures,
    /// The layer of the best head on validation: the one kept.
    pub best_layer: usize,
    /// Which of `heads` is kept (runs stored before it: the one at `best_layer`).
    #[serde(default)]
    pub kept: Option<usize>,
    /// The kept head's calibration: (mean predicted chance the first wins, observed share,
    /// pairs), in bins of a tenth.
    pub calibration: Vec<(f64, f64, usize)>,
    /// The kept head's loss curve: (step, train loss, validation loss).
    pub curve: Vec<(usize, f32, f32)>,
    pub feature_secs: f64,
    pub total_secs: f64,
    pub base_model_sha256: String,
    pub head_sha256: String,
    /// The kept head's held-out accuracy on the pairs of each comparison batch, and on the
    /// pairs of each model version's replies (a pair of two versions counts for both).
    #[serde(default)]
    pub by_batch: Vec<GroupFigures>,
    #[serde(default)]
    pub by_model: Vec<GroupFigures>,
    /// Rankings that heads of the kept kind, trained without their comparison, and the
    /// other trainers' rankings both contradict (see [`DOUBT_THRESHOLD`]), most doubtful
    /// first.
    #[serde(default)]
    pub doubtful: Vec<Doubt>,
}

impl RewardResult {
    /// Which of `heads` is kept (the best on validation).
    pub fn kept_index(&self) -> Option<usize> {
        self.kept.or_else(|| self.heads.iter().position(|h| h.layer == self.best_layer))
    }

    pub fn kept_head(&self) -> Option<&HeadFigures> {
        self.heads.get(self.kept_index()?)
    }
}

/// A ranking is doubtful when the reward model gives the ranker's order of its pairs this
/// chance or less on average, and the other trainers' rankings of the same comparison order
/// this share of those pairs as the ranker did, or less.
pub const DOUBT_THRESHOLD: f64 = 0.25;

/// Held-out accuracy on a part of the test pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    /// The batch's id (its first 8 characters), or the model version's name.
    pub label: String,
    pub pairs: usize,
    pub accuracy: f64,
    pub low: f64,
    pub high: f64,
}

/// A ranking both the reward model and the other trainers disagree with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doubt {
    pub ranking_id: Uuid,
    pub comparison_id: Uuid,
    /// The ranker as the export names them.
    pub trainer: String,
    /// Mean chance the reward model gives the ranker's order of each pair.
    pub model_agreement: f64,
    /// Share of the other trainers' ordered pairs (of the ranker's pairs) that go the
    /// ranker's way.
    pub others_agreement: f64,
    /// Other trainers who ranked the comparison.
    pub others: usize,
    /// The ranking's pairs, and each reply's score (by its text) from a head that was not
    /// trained on the comparison.
    pub pairs: usize,
    pub scores: Vec<(String, f32)>,
}

crate::conversation::named_enum!(
    /// Where a run stands.
    RunStatus("run status") {
        Running = "running",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);

/// A run as the page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardRun {
    pub id: Uuid,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub options: RewardOptions,
    pub status: RunStatus,
    /// 0 to 1, while running.
    pub progress: f64,
    /// What it is doing, or why it failed.
    pub message: String,
    pub result: Option<RewardResult>,
}

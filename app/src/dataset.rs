//! Datasets: what an import did, why a file was refused, and the export formats, as the
//! browser and the server share them. The formats are those of `shared/FORMATS.md`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most problems an import lists; it counts the rest.
pub const MAX_PROBLEMS: usize = 20;

crate::conversation::named_enum!(
    /// What a file to import holds.
    ImportFormat("import format") {
        /// Decided from the first line.
        Auto = "auto",
        /// `instruction` or `prompt`, optional `input`, optional `output`/`response`/`completion`.
        Instruction = "instruction",
        /// OpenAI / TRL `{"messages": [{"role", "content"}, …]}`.
        Messages = "messages",
        /// Anthropic HH-RLHF `{"chosen": "\n\nHuman: …", "rejected": …}`.
        HhRlhf = "hh-rlhf",
        /// TRL preference `{"prompt", "chosen", "rejected"}`, strings or messages.
        TrlPreference = "trl-preference",
        /// Rankings kept whole, as Parley exports them: `prompt`, `completions`, `ranking`.
        Kwise = "kwise",
        /// Open-Assistant trees `{"message_tree_id", "prompt": node}`.
        Oasst = "oasst",
        /// One prompt a line: a JSON string, or `{"prompt": "…"}` / `{"text": "…"}`.
        Prompts = "prompts",
    }
);

/// One thing wrong with a file: its line (from 1), the field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProblem {
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.field, self.message)
        }
    }
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub id: Uuid,
    pub source: String,
    pub format: ImportFormat,
    pub file_name: String,
    /// Lines read (blank lines aside).
    pub rows: usize,
    pub conversations: usize,
    pub prompts: usize,
    /// Conversations and prompts already stored (same text), skipped.
    pub duplicates: usize,
    /// Comparisons made of preference rows (HH-RLHF, TRL, K-wise), and the rankings they hold.
    #[serde(default)]
    pub comparisons: usize,
    #[serde(default)]
    pub rankings: usize,
    pub created_at: String,
}

/// A file refused: nothing was stored. The first problems, and how many there were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRefusal {
    pub problems: Vec<ImportProblem>,
    pub total: usize,
}

crate::conversation::named_enum!(
    /// A training set Parley writes.
    ExportFormat("export format") {
        /// Demonstrations as OpenAI / TRL `messages`.
        Sft = "sft",
        /// Rankings as TRL conversational preference pairs (`prompt`, `chosen`, `rejected`, `margin`).
        PreferenceTrl = "preference-trl",
        /// Rankings as OpenAI preference (DPO) pairs.
        PreferenceOpenai = "preference-openai",
        /// Rankings as Anthropic HH-RLHF string pairs.
        PreferenceHh = "preference-hh",
        /// Rankings kept whole: `prompt`, `completions`, `ranking`.
        Kwise = "kwise",
        /// Thumbs up / down as TRL unpaired preference (KTO).
        Kto = "kto",
        /// People's word on the content filter.
        FilterFeedback = "filter-feedback",
        /// Conversation trees as Open-Assistant trees.
        OasstTrees = "oasst-trees",
    }
);

impl ExportFormat {
    pub fn describe(self) -> &'static str {
        match self {
            ExportFormat::Sft => "SFT: demonstrations as messages (OpenAI / TRL)",
            ExportFormat::PreferenceTrl => {
                "Preference pairs, TRL conversational (prompt / chosen / rejected / margin)"
            }
            ExportFormat::PreferenceOpenai => {
                "Preference pairs, OpenAI DPO (input / preferred_output / non_preferred_output)"
            }
            ExportFormat::PreferenceHh => "Preference pairs, Anthropic HH-RLHF strings",
            ExportFormat::Kwise => "Rankings kept whole (prompt / completions / ranking)",
            ExportFormat::Kto => "Thumbs up / down, TRL KTO (prompt / completion / label)",
            ExportFormat::FilterFeedback => "Feedback on the content filter",
            ExportFormat::OasstTrees => "Conversation trees, Open-Assistant",
        }
    }

    /// Whether the format is also written as Parquet: the flat and list-shaped sets that
    /// dataset hubs store (Open-Assistant trees nest without bound, filter feedback is small).
    pub fn has_parquet(self) -> bool {
        matches!(
            self,
            ExportFormat::Sft
                | ExportFormat::PreferenceTrl
                | ExportFormat::PreferenceOpenai
                | ExportFormat::PreferenceHh
                | ExportFormat::Kwise
                | ExportFormat::Kto
        )
    }
}

crate::conversation::named_enum!(
    /// How an exported file is written: JSON lines, or Apache Parquet (the same columns).
    FileType { Jsonl = "jsonl", Parquet = "parquet" }
);

// The enum is made by `named_enum!`, which has no `#[default]` to give.
#[allow(clippy::derivable_impls)]
impl Default for FileType {
    fn default() -> Self {
        FileType::Jsonl
    }
}

/// What an export includes and how it is split. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportOptions {
    /// Days (YYYY-MM-DD), both included, of the item's last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only texts written by this model version (rankings: any completion by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<Uuid>,
    /// Only this trainer's work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trainer: Option<Uuid>,
    /// SFT: `accepted` for reviewed work only; otherwise submitted and accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only conversations from this source: `parley` (made here) or an import's source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Preference pairs: also a pair of margin 0 for each tie.
    #[serde(default)]
    pub ties: bool,
    /// Train/test split by conversation: the seed and the share that goes to test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    #[serde(default)]
    pub test_ratio: f64,
    /// Trainer ids replaced by pseudonyms made with this seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym_seed: Option<u64>,
}

/// Which side of the split a row is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// No split asked for: everything.
    All,
    Train,
    Test,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::All => "all",
            Part::Train => "train",
            Part::Test => "test",
        }
    }
}

/// One file of an export, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportFile {
    pub name: String,
    pub format: ExportFormat,
    pub part: Part,
    #[serde(default)]
    pub file_type: FileType,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// What an export wrote, the options it was made with, and the Parley that made it; and
/// the latest reward model trained on rankings of the same source, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub parley_version: String,
    pub created_at: String,
    pub options: ExportOptions,
    pub files: Vec<ExportFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_model: Option<ManifestReward>,
}

/// A reward model's figures as the manifest carries them: how well the rankings taught it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestReward {
    pub run_id: Uuid,
    pub trained_at: String,
    pub source: Option<String>,
    pub split_seed: u64,
    pub test_ratio: f64,
    /// Held-out pairwise accuracy of the head kept, and its 95% bootstrap interval.
    pub accuracy: f64,
    pub interval: [f64; 2],
    pub random_label_accuracy: f64,
    pub pairs_train: usize,
    pub pairs_test: usize,
    pub feature_layer: usize,
    /// What the head reads at that layer: `last` (the state after the reply's last token)
    /// or `last+mean` (that and the mean over the reply's tokens).
    pub feature_reading: crate::reward::Reading,
    pub base_model_sha256: String,
    pub head_sha256: String,
}

impl ManifestReward {
    /// The figures of a finished run (none for a run without a result).
    pub fn of(run: &crate::reward::RewardRun) -> Option<ManifestReward> {
        let result = run.result.as_ref()?;
        let best = result.kept_head()?;
        Some(ManifestReward {
            run_id: run.id,
            trained_at: run.finished_at.clone().unwrap_or_else(|| run.created_at.clone()),
            source: run.options.source.clone(),
            split_seed: run.options.split_seed,
            test_ratio: run.options.test_ratio,
            accuracy: best.accuracy,
            interval: [best.low, best.high],
            random_label_accuracy: result.control.accuracy,
            pairs_train: result.pairs_train,
            pairs_test: result.pairs_test,
            feature_layer: result.best_layer,
            feature_reading: best.reading,
            base_model_sha256: result.base_model_sha256.clone(),
            head_sha256: result.head_sha256.clone(),
        })
    }
}

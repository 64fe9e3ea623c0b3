//! Datasets: what an import did, why a file was refused, and the export formats, as the
//! browser and the server share them. The formats are those of `shared/FORMATS.md`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most problems an import lists; it counts the rest.
pub const MAX_PROBLEMS: usize = 20;

/// What a file to import holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    /// Decided from the first line.
    Auto,
    /// `instruction` or `prompt`, optional `input`, optional `output`/`response`/`completion`.
    Instruction,
    /// OpenAI / TRL `{"messages": [{"role", "content"}, …]}`.
    Messages,
    /// Anthropic HH-RLHF `{"chosen": "\n\nHuman: …", "rejected": …}`.
    HhRlhf,
    /// Open-Assistant trees `{"message_tree_id", "prompt": node}`.
    Oasst,
    /// One prompt a line: a JSON string, or `{"prompt": "…"}` / `{"text": "…"}`.
    Prompts,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 6] = [
        ImportFormat::Auto,
        ImportFormat::Instruction,
        ImportFormat::Messages,
        ImportFormat::HhRlhf,
        ImportFormat::Oasst,
        ImportFormat::Prompts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Auto => "auto",
            ImportFormat::Instruction => "instruction",
            ImportFormat::Messages => "messages",
            ImportFormat::HhRlhf => "hh-rlhf",
            ImportFormat::Oasst => "oasst",
            ImportFormat::Prompts => "prompts",
        }
    }
}

impl std::str::FromStr for ImportFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        ImportFormat::ALL.into_iter().find(|f| f.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = ImportFormat::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown import format {text:?}; formats are {}", names.join(", "))
        })
    }
}

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
    pub created_at: String,
}

/// A file refused: nothing was stored. The first problems, and how many there were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRefusal {
    pub problems: Vec<ImportProblem>,
    pub total: usize,
}

/// A training set Parley writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// Demonstrations as OpenAI / TRL `messages`.
    Sft,
    /// Rankings as TRL conversational preference pairs (`prompt`, `chosen`, `rejected`, `margin`).
    PreferenceTrl,
    /// Rankings as OpenAI preference (DPO) pairs.
    PreferenceOpenai,
    /// Rankings as Anthropic HH-RLHF string pairs.
    PreferenceHh,
    /// Rankings kept whole: `prompt`, `completions`, `ranking`.
    Kwise,
    /// Thumbs up / down as TRL unpaired preference (KTO).
    Kto,
    /// People's word on the content filter.
    FilterFeedback,
    /// Conversation trees as Open-Assistant trees.
    OasstTrees,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 8] = [
        ExportFormat::Sft,
        ExportFormat::PreferenceTrl,
        ExportFormat::PreferenceOpenai,
        ExportFormat::PreferenceHh,
        ExportFormat::Kwise,
        ExportFormat::Kto,
        ExportFormat::FilterFeedback,
        ExportFormat::OasstTrees,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Sft => "sft",
            ExportFormat::PreferenceTrl => "preference-trl",
            ExportFormat::PreferenceOpenai => "preference-openai",
            ExportFormat::PreferenceHh => "preference-hh",
            ExportFormat::Kwise => "kwise",
            ExportFormat::Kto => "kto",
            ExportFormat::FilterFeedback => "filter-feedback",
            ExportFormat::OasstTrees => "oasst-trees",
        }
    }

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
}

impl ExportFormat {
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

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        ExportFormat::ALL.into_iter().find(|f| f.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown export format {text:?}; formats are {}", names.join(", "))
        })
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

/// What an export wrote, the options it was made with, and the Parley that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub parley_version: String,
    pub created_at: String,
    pub options: ExportOptions,
    pub files: Vec<ExportFile>,
}

//! The content filter as the browser and the server share it: what it decided about a
//! text, and what people said of that decision.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The text is shown with a badge.
    Warn,
    /// A user's text is not sent to the model; a model's is hidden behind a notice.
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Warn => "warn",
            Action::Block => "block",
        }
    }
}

/// The filter's decision on one message, under one version of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub policy_version: i64,
    /// None: the text passed.
    pub action: Option<Action>,
    pub categories: Vec<String>,
}

/// Whether a flag was wrong (false positive) or a text should have been flagged (false
/// negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterFeedbackKind {
    FalsePositive,
    FalseNegative,
}

/// One person's word on the filter's decision about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterFeedback {
    pub message_id: Uuid,
    pub user_id: Uuid,
    pub kind: FilterFeedbackKind,
    pub category: String,
    pub note: String,
    pub created_at: String,
}

/// A version of the policy as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub version: i64,
    pub text: String,
    pub created_at: String,
}

/// Figures per category: texts flagged, and what feedback said of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryStats {
    pub category: String,
    pub flagged: i64,
    pub false_positives: i64,
    pub false_negatives: i64,
}

impl CategoryStats {
    /// Share of flags that no one called wrong; none before anything was flagged.
    pub fn precision(&self) -> Option<f64> {
        (self.flagged > 0).then(|| (self.flagged - self.false_positives).max(0) as f64 / self.flagged as f64)
    }
}

/// What the admin's Filter page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterOverview {
    pub policy: PolicyVersion,
    pub categories: Vec<CategoryStats>,
    /// The newest feedback on the filter, with the message text shortened.
    pub feedback: Vec<(FilterFeedback, String)>,
    /// The external moderation endpoint, described, when one is configured.
    pub moderation: Option<String>,
}

/// Which decisions the admin page lists. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionFilter {
    /// A category hit.
    #[serde(default)]
    pub category: String,
    /// `flagged` (warn or block), `warn`, `block` or `passed`.
    #[serde(default)]
    pub action: String,
    /// `user` (a person's turn) or `model` (a model's).
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub policy_version: Option<i64>,
    /// Decisions of the last so many days.
    #[serde(default)]
    pub days: Option<i64>,
}

/// One decision as the admin page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionLine {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub conversation_kind: crate::conversation::ConversationKind,
    pub from_model: bool,
    pub policy_version: i64,
    pub action: Option<Action>,
    pub categories: Vec<String>,
    /// What matched, as the rules (or the endpoint) reported it.
    pub matched: Vec<String>,
    /// The message's text, shortened.
    pub text: String,
    pub created_at: String,
    /// Feedback on the filter for this message: "not unsafe" and "should have been flagged".
    pub false_positives: i64,
    pub false_negatives: i64,
}

/// Decisions the page lists and how many matched in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionList {
    pub total: i64,
    pub lines: Vec<DecisionLine>,
}

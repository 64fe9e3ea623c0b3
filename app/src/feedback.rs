//! Feedback on model-written messages, as the browser and the server share it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The categories offered until an admin sets others.
pub const DEFAULT_CATEGORIES: [&str; 5] = ["harmful", "untrue", "unhelpful", "off-topic", "other"];
/// Most categories an admin may set, and the longest name.
pub const MAX_CATEGORIES: usize = 30;
pub const MAX_CATEGORY_CHARS: usize = 40;

/// The model-written text a feedback is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedbackTarget {
    /// A model turn of a conversation.
    Message { id: Uuid },
    /// A suggestion shown while writing: its request and place there.
    Suggestion { request_id: Uuid, index: i64 },
    /// A completion in a comparison.
    Completion { id: Uuid },
}

impl FeedbackTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            FeedbackTarget::Message { .. } => "message",
            FeedbackTarget::Suggestion { .. } => "suggestion",
            FeedbackTarget::Completion { .. } => "completion",
        }
    }

    /// The id as stored: a suggestion's is "request:index".
    pub fn key(&self) -> String {
        match self {
            FeedbackTarget::Message { id } | FeedbackTarget::Completion { id } => id.to_string(),
            FeedbackTarget::Suggestion { request_id, index } => format!("{request_id}:{index}"),
        }
    }

    /// The target a kind and key name; none when they do not read back.
    pub fn parse(kind: &str, key: &str) -> Option<FeedbackTarget> {
        match kind {
            "message" => Uuid::parse_str(key).ok().map(|id| FeedbackTarget::Message { id }),
            "completion" => Uuid::parse_str(key).ok().map(|id| FeedbackTarget::Completion { id }),
            "suggestion" => {
                let (request, index) = key.split_once(':')?;
                Some(FeedbackTarget::Suggestion {
                    request_id: Uuid::parse_str(request).ok()?,
                    index: index.parse().ok()?,
                })
            }
            _ => None,
        }
    }
}

/// One person's feedback on one model-written text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub target: FeedbackTarget,
    pub user_id: Uuid,
    /// 1 thumbs up, -1 thumbs down.
    pub thumbs: Option<i64>,
    pub categories: Vec<String>,
    pub text: String,
    pub updated_at: String,
}

/// A line of the Feedback page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackItem {
    pub feedback: Feedback,
    pub user_email: String,
    /// The conversation a message or suggestion belongs to (none for a completion).
    pub conversation: Option<(Uuid, crate::conversation::ConversationKind)>,
    pub model_version_id: Option<Uuid>,
    pub model_name: Option<String>,
    /// The text, shortened.
    pub excerpt: String,
}

/// Which feedback the page lists. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackFilter {
    /// Only this person's (trainers see only their own).
    pub user_id: Option<Uuid>,
    pub category: Option<String>,
    pub model_version_id: Option<Uuid>,
    /// Days, `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip_through_kind_and_key() {
        let id = Uuid::from_u128(7);
        for target in [
            FeedbackTarget::Message { id },
            FeedbackTarget::Completion { id },
            FeedbackTarget::Suggestion { request_id: id, index: 3 },
        ] {
            assert_eq!(FeedbackTarget::parse(target.kind(), &target.key()), Some(target));
        }
        assert_eq!(FeedbackTarget::parse("suggestion", "nonsense"), None);
        assert_eq!(FeedbackTarget::parse("turn", &id.to_string()), None);
    }
}

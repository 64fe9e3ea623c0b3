//! Feedback on model-written messages, as the browser and the server share it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The categories offered until an admin sets others.
pub const DEFAULT_CATEGORIES: [&str; 5] = ["harmful", "untrue", "unhelpful", "off-topic", "other"];
/// Most categories an admin may set, and the longest name.
pub const MAX_CATEGORIES: usize = 30;
pub const MAX_CATEGORY_CHARS: usize = 40;

/// One person's feedback on one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub message_id: Uuid,
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
    pub conversation_id: Uuid,
    pub conversation_kind: crate::conversation::ConversationKind,
    pub model_version_id: Option<Uuid>,
    pub model_name: Option<String>,
    /// The message's text, shortened.
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

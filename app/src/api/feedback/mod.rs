//! Feedback on model-written messages: anyone who may read a conversation may say what was
//! good or wrong with its model turns; reviewers and admins read all of it.

mod categories;
mod list_feedback;
mod save_feedback;

pub use categories::*;
pub use list_feedback::*;
pub use save_feedback::*;

/// The settings key of the admins' feedback categories (JSON list).
#[cfg(feature = "ssr")]
const CATEGORIES_KEY: &str = "feedback_categories";

/// The categories in use: the admins' list, else the defaults.
#[cfg(feature = "ssr")]
pub(crate) async fn categories_in_use() -> Result<Vec<String>, crate::error::ApiError> {
    let stored = crate::ssr::state()?.store.setting(CATEGORIES_KEY).await?;
    Ok(stored
        .and_then(|json| serde_json::from_str::<Vec<String>>(&json).ok())
        .unwrap_or_else(|| crate::feedback::DEFAULT_CATEGORIES.iter().map(|c| c.to_string()).collect()))
}

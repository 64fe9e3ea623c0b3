use crate::error::ApiError;
use crate::feedback::FeedbackItem;
use leptos::prelude::*;
use uuid::Uuid;

/// Feedback, newest first (at most 500): everyone's for reviewers and admins, their own for
/// trainers. Filters: a category, a model version, days `from` and `to` (`YYYY-MM-DD`).
#[server(endpoint = "feedback/list")]
pub async fn list_feedback(
    #[server(default)] category: String,
    model_version_id: Option<Uuid>,
    #[server(default)] from: String,
    #[server(default)] to: String,
) -> Result<Vec<FeedbackItem>, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::feedback::FeedbackFilter;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let day = |field: &str, value: String| -> Result<Option<String>, ApiError> {
        if value.is_empty() {
            return Ok(None);
        }
        let bytes = value.as_bytes();
        let valid = value.len() == 10
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
        if !valid {
            return Err(ApiError::field(ErrorKind::Invalid, field, "a day is written YYYY-MM-DD"));
        }
        Ok(Some(value))
    };
    let filter = FeedbackFilter {
        user_id: (!user.role.allows(Role::Reviewer)).then_some(user.id),
        category: (!category.is_empty()).then_some(category),
        model_version_id,
        from: day("from", from)?,
        to: day("to", to)?,
    };
    Ok(state()?.store.list_feedback(&filter, 500).await?)
}

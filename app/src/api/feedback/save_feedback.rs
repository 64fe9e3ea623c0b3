use crate::error::ApiError;
use crate::feedback::Feedback;
use leptos::prelude::*;
use uuid::Uuid;

/// The caller's feedback on a model-written message of a conversation they may read:
/// thumbs (1 up, -1 down, none), categories from the admins' list, and a text. One per
/// person per message: saving again replaces it, so a retried save changes nothing more.
#[server(endpoint = "feedback/save")]
pub async fn save_feedback(
    conversation_id: Uuid,
    message_id: Uuid,
    thumbs: Option<i64>,
    #[server(default)] categories: Vec<String>,
    #[server(default)] text: String,
) -> Result<Feedback, ApiError> {
    use crate::conversation::Author;
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let conversation = super::super::conversations::access::readable(&user, conversation_id).await?;
    let message = conversation
        .messages
        .iter()
        .find(|m| m.id == message_id)
        .ok_or_else(|| ApiError::field(ErrorKind::NotFound, "message_id", "message not found"))?;
    if !matches!(message.author, Author::Model { .. }) {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "message_id",
            "feedback is for model-written messages; this one a person wrote",
        ));
    }
    if thumbs.is_some_and(|t| t != 1 && t != -1) {
        return Err(ApiError::field(ErrorKind::Invalid, "thumbs", "thumbs is 1 (up) or -1 (down)"));
    }
    let known = super::categories_in_use().await?;
    if let Some(unknown) = categories.iter().find(|c| !known.contains(c)) {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "categories",
            format!("unknown category {unknown:?}; categories are {}", known.join(", ")),
        ));
    }
    let max = state()?.limits.message_bytes;
    if text.len() > max {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "text",
            format!("feedback may hold {} KB at most; this is {} KB", max / 1024, text.len().div_ceil(1024)),
        ));
    }
    if text.contains('\0') {
        return Err(ApiError::field(ErrorKind::Invalid, "text", "feedback cannot contain a NUL character"));
    }
    let mut categories = categories;
    categories.sort();
    categories.dedup();
    let feedback = Feedback {
        message_id,
        user_id: user.id,
        thumbs,
        categories,
        text: text.trim().to_string(),
        updated_at: String::new(),
    };
    Ok(state()?.store.save_feedback(&feedback).await?)
}

use crate::error::ApiError;
use crate::feedback::Feedback;
use leptos::prelude::*;
use uuid::Uuid;

/// The caller's feedback on a model-written text they may see: thumbs (1 up, -1 down, none),
/// categories from the admins' list, and a comment. `target_kind` is `message` or
/// `suggestion` (in `conversation_id`, which the caller may read; a suggestion's
/// `target_id` is "request:index"), or `completion` (of a comparison the caller holds or
/// ranked; reviewers and admins may see all). One per person per text: saving again replaces
/// it, so a retried save changes nothing more.
#[server(endpoint = "feedback/save")]
pub async fn save_feedback(
    target_kind: String,
    target_id: String,
    conversation_id: Option<Uuid>,
    thumbs: Option<i64>,
    #[server(default)] categories: Vec<String>,
    #[server(default)] text: String,
) -> Result<Feedback, ApiError> {
    use crate::conversation::Author;
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::feedback::FeedbackTarget;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let target = FeedbackTarget::parse(&target_kind, &target_id).ok_or_else(|| {
        ApiError::field(
            ErrorKind::Invalid,
            "target_kind",
            "feedback is on a message, a suggestion (request:index) or a completion, by its id",
        )
    })?;
    let not_found =
        |what: &str| ApiError::field(ErrorKind::NotFound, "target_id", format!("{what} not found"));
    let conversation = || async {
        let id = conversation_id
            .ok_or_else(|| ApiError::field(ErrorKind::Invalid, "conversation_id", "name the conversation"))?;
        super::super::conversations::access::readable(&user, id).await
    };
    match target {
        FeedbackTarget::Message { id } => {
            let conversation = conversation().await?;
            let message =
                conversation.messages.iter().find(|m| m.id == id).ok_or_else(|| not_found("message"))?;
            if !matches!(message.author, Author::Model { .. }) {
                return Err(ApiError::field(
                    ErrorKind::Invalid,
                    "target_id",
                    "feedback is for model-written texts; a person wrote this one",
                ));
            }
        }
        FeedbackTarget::Suggestion { request_id, index } => {
            let conversation = conversation().await?;
            if !conversation.suggestions.iter().any(|s| s.request_id == request_id && s.index == index) {
                return Err(not_found("suggestion"));
            }
        }
        FeedbackTarget::Completion { id } => {
            let store = state()?.store;
            let comparison =
                store.comparison_of_completion(id).await?.ok_or_else(|| not_found("completion"))?;
            let now = crate::ssr::clock::now_rfc3339();
            let sees = user.role.allows(Role::Reviewer)
                || store.held_lease(comparison, user.id, &now).await?.is_some()
                || !store.rankings_of(comparison, user.id).await?.is_empty();
            if !sees {
                return Err(not_found("completion"));
            }
        }
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
    super::super::conversations::access::check_size("text", "feedback", &text)?;
    let mut categories = categories;
    categories.sort();
    categories.dedup();
    let feedback = Feedback {
        target,
        user_id: user.id,
        thumbs,
        categories,
        text: text.trim().to_string(),
        updated_at: String::new(),
    };
    Ok(state()?.store.save_feedback(&feedback).await?)
}

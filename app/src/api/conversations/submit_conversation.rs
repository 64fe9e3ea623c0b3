use crate::conversation::Conversation;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner submits the conversation; each submit keeps a revision (the history). A
/// demonstration may be queued for review (see `review::ReviewPolicy`). `request_id` is
/// made by the client: a retried or double-clicked submit keeps one revision.
#[server(endpoint = "conversations/submit")]
pub async fn submit_conversation(
    conversation_id: Uuid,
    #[server(default)] request_id: Option<Uuid>,
) -> Result<Conversation, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let conversation = super::access::writable(&user, conversation_id).await?;
    if conversation.messages.is_empty() {
        return Err(ApiError::new(ErrorKind::Invalid, "write at least one turn before submitting"));
    }
    // Demonstrations the review policy draws wait in the reviewers' queue; the queue row is
    // written in the submit's own transaction.
    let review_reason = crate::api::review::review_reason(&conversation).await?;
    let submission = crate::ssr::Submission { conversation_id, by: user.id, request_id, review_reason };
    Ok(state()?.store.submit_conversation(submission).await?)
}

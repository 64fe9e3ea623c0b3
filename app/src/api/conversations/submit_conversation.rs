use crate::conversation::Conversation;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner submits the conversation; each submit keeps a revision (the history). A
/// demonstration may be queued for review (see `review::ReviewPolicy`).
#[server(endpoint = "conversations/submit")]
pub async fn submit_conversation(conversation_id: Uuid) -> Result<Conversation, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let conversation = super::access::writable(&user, conversation_id).await?;
    if conversation.messages.is_empty() {
        return Err(ApiError::new(ErrorKind::Invalid, "write at least one turn before submitting"));
    }
    let submitted = state()?.store.submit_conversation(conversation_id, user.id).await?;
    // Demonstrations the review policy draws wait in the reviewers' queue.
    crate::api::review::queue_if_drawn(&submitted).await?;
    Ok(submitted)
}

use crate::conversation::Conversation;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// A conversation with every branch, and the caller's feedback on it: for its owner, and for
/// reviewers and admins.
#[server(endpoint = "conversations/get")]
pub async fn get_conversation(conversation_id: Uuid) -> Result<Conversation, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let mut conversation = super::access::readable(&user, conversation_id).await?;
    let store = state()?.store;
    conversation.my_feedback = store.feedback_in(conversation_id, user.id).await?;
    conversation.my_filter_feedback = store.filter_feedback_in(conversation_id, user.id).await?;
    Ok(conversation)
}

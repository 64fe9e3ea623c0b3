use crate::conversation::Conversation;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// A conversation with every branch: for its owner, and for reviewers and admins.
#[server(endpoint = "conversations/get")]
pub async fn get_conversation(conversation_id: Uuid) -> Result<Conversation, ApiError> {
    use crate::domain::Role;
    use crate::ssr::require;
    let user = require(Role::Trainer).await?;
    super::access::readable(&user, conversation_id).await
}

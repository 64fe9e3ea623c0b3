use crate::conversation::{Message, Role};
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner adds a turn they wrote under `parent_id` (none: the first turn). Under a parent
/// that already has replies it starts a new branch. Turns alternate: the first is the
/// user's, then assistant and user take turns. `request_id` is the message's id.
#[server(endpoint = "conversations/add_message")]
pub async fn add_message(
    conversation_id: Uuid,
    request_id: Uuid,
    parent_id: Option<Uuid>,
    role: Role,
    text: String,
) -> Result<Message, ApiError> {
    use crate::conversation::Author;
    use crate::domain::Role as AccountRole;
    use crate::error::ErrorKind;
    use crate::ssr::{NewMessage, require, state};
    let user = require(AccountRole::Trainer).await?;
    let conversation = super::access::writable(&user, conversation_id).await?;
    if let Some(existing) = conversation.messages.iter().find(|m| m.id == request_id) {
        return Ok(existing.clone());
    }
    super::access::check_text(&text)?;
    if conversation.messages.len() >= super::MAX_MESSAGES {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!("a conversation may hold {} messages at most", super::MAX_MESSAGES),
        ));
    }
    let parent_role = match parent_id {
        None => None,
        Some(parent) => {
            Some(conversation.messages.iter().find(|m| m.id == parent).map(|m| m.role).ok_or_else(|| {
                ApiError::field(
                    ErrorKind::NotFound,
                    "parent_id",
                    "the turn to reply to is not in this conversation",
                )
            })?)
        }
    };
    let expected = match parent_role {
        None | Some(Role::System) | Some(Role::Assistant) => Role::User,
        Some(Role::User) => Role::Assistant,
    };
    if role != expected {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "role",
            format!("turns alternate: this turn must be the {}'s", expected.as_str()),
        ));
    }
    let new = NewMessage {
        id: request_id,
        parent_id,
        role,
        text,
        author: Author::Trainer { user_id: user.id },
        suggestion: None,
    };
    Ok(state()?.store.add_message(conversation_id, new).await?)
}

use crate::conversation::Conversation;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner deletes or reorders the turns of a demonstration: `order` is the new sequence
/// of turn ids, and turns left out are deleted. Refused, with nothing changed, when the
/// turns would no longer alternate user, assistant, … or the conversation has branches.
#[server(endpoint = "conversations/rearrange")]
pub async fn rearrange_turns(
    conversation_id: Uuid,
    #[server(default)] order: Vec<Uuid>,
) -> Result<Conversation, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let conversation = super::access::writable(&user, conversation_id).await?;
    if conversation.kind != crate::conversation::ConversationKind::Demonstration {
        // A chat's turns are what the model saw and wrote, and its replies may be compared.
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "conversation_id",
            "only a demonstration's turns are moved and deleted; a chat keeps its turns (edit one as a new branch)",
        ));
    }
    let branched = conversation.messages.iter().any(|m| conversation.children(Some(m.id)).count() > 1)
        || conversation.children(None).count() > 1;
    if branched {
        return Err(ApiError::new(
            ErrorKind::Invalid,
            "this conversation has branches; turns are moved and deleted only in a single line of turns",
        ));
    }
    let mut roles = vec![];
    for (i, id) in order.iter().enumerate() {
        if order[..i].contains(id) {
            return Err(ApiError::field(ErrorKind::Invalid, "order", "a turn is listed twice"));
        }
        let message = conversation.messages.iter().find(|m| m.id == *id).ok_or_else(|| {
            ApiError::field(ErrorKind::NotFound, "order", "a listed turn is not in this conversation")
        })?;
        roles.push(message.role);
    }
    crate::conversation::check_alternation(&roles)
        .map_err(|message| ApiError::field(ErrorKind::Invalid, "order", message))?;
    Ok(state()?.store.rearrange(conversation_id, &order).await?)
}

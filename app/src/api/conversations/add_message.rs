use crate::conversation::{Message, Role};
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner adds a turn they wrote under `parent_id` (none: the first turn). Under a parent
/// that already has replies it starts a new branch. Turns alternate: the first is the
/// user's, then assistant and user take turns. `request_id` is the message's id. A turn
/// begun from a model suggestion names it (`suggestion_request`, `suggestion_index`): the
/// suggestion is marked taken and the edit distance from it is kept with the turn.
#[server(endpoint = "conversations/add_message")]
pub async fn add_message(
    conversation_id: Uuid,
    request_id: Uuid,
    parent_id: Option<Uuid>,
    role: Role,
    text: String,
    suggestion_request: Option<Uuid>,
    suggestion_index: Option<i64>,
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
    let max = state()?.limits.messages;
    if conversation.messages.len() >= max {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!("a conversation may hold {max} messages at most"),
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
    let taken = match (suggestion_request, suggestion_index) {
        (Some(request), Some(index)) => Some(
            conversation
                .suggestions
                .iter()
                .find(|s| {
                    s.request_id == request && s.index == index && s.parent_id == parent_id && s.role == role
                })
                .ok_or_else(|| {
                    ApiError::field(
                        ErrorKind::NotFound,
                        "suggestion_request",
                        "that suggestion was not made for this turn",
                    )
                })?,
        ),
        _ => None,
    };
    let state = state()?;
    let decision = state.filter.decide(state.store.as_ref(), &text).await?;
    let verdict = decision.verdict.clone();
    let new = NewMessage {
        id: request_id,
        parent_id,
        role,
        suggestion: taken
            .map(|s| crate::conversation::SuggestionTaken::new(s.text.clone(), s.model_version_id, &text)),
        taken_from: taken.map(|s| (s.request_id, s.index)),
        author: Author::Trainer { user_id: user.id },
        decision: Some(decision),
        text,
    };
    let store = state.store;
    let mut message = store.add_message(conversation_id, new).await?;
    // A concurrent twin's stored turn keeps its own decision when it carries one.
    message.filter = message.filter.or(Some(verdict));
    // The text typed for this turn is now the turn.
    store.save_composer(conversation_id, None).await?;
    Ok(message)
}

use crate::conversation::Message;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner replaces the text of a turn (drafts are saved this way as the trainer types);
/// the content filter judges the new text.
#[server(endpoint = "conversations/edit_message")]
pub async fn edit_message(
    conversation_id: Uuid,
    message_id: Uuid,
    text: String,
) -> Result<Message, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let conversation = super::access::writable(&user, conversation_id).await?;
    let message = conversation.messages.iter().find(|m| m.id == message_id).ok_or_else(|| {
        ApiError::field(ErrorKind::NotFound, "message_id", "that turn is not in this conversation")
    })?;
    super::access::check_text(&text)?;
    // A turn begun from a suggestion keeps it, with the distance measured anew.
    let suggestion = message
        .suggestion
        .clone()
        .map(|s| crate::conversation::SuggestionTaken::new(s.text, s.model_version_id, &text));
    let state = state()?;
    let mut edited = state.store.edit_message(message_id, &text, suggestion).await?;
    edited.filter = Some(state.filter.judge(state.store.as_ref(), message_id, &edited.text).await?);
    Ok(edited)
}

use crate::conversation::Message;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner replaces the text of a turn of a demonstration (drafts are saved this way as
/// the trainer types); the content filter judges the new text. Text credited to a model is
/// never changed in place: a model-written turn is refused (422 `message_id`), and so is
/// any turn of a chat (a chat's turns are what the model saw and wrote; edit one as a new
/// branch) and a turn that a comparison's context holds (409).
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
    if conversation.kind != crate::conversation::ConversationKind::Demonstration {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "conversation_id",
            "turns of a chat are not edited in place: edit a turn as a new branch instead",
        ));
    }
    if matches!(message.author, crate::conversation::Author::Model { .. }) {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "message_id",
            "this turn was written by a model and keeps its text; write your own version as a new turn",
        ));
    }
    super::access::check_text(&text)?;
    // A turn begun from a suggestion keeps it, with the distance measured anew.
    let suggestion = message
        .suggestion
        .clone()
        .map(|s| crate::conversation::SuggestionTaken::new(s.text, s.model_version_id, &text));
    let state = state()?;
    let decision = state.filter.decide(state.store.as_ref(), &text).await?;
    let mut edited = state.store.edit_message(message_id, &text, suggestion, Some(&decision)).await?;
    edited.filter = Some(decision.verdict);
    Ok(edited)
}

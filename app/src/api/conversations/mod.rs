//! Conversations: demonstrations and chats. Owners write their own; reviewers and admins
//! may read everyone's.

mod add_message;
mod conversation_history;
mod create_conversation;
mod edit_message;
mod get_conversation;
mod list_conversations;
mod rearrange_turns;
mod save_composer;
mod set_sampling;
mod stop_suggestion;
mod submit_conversation;

pub use add_message::*;
pub use conversation_history::*;
pub use create_conversation::*;
pub use edit_message::*;
pub use get_conversation::*;
pub use list_conversations::*;
pub use rearrange_turns::*;
pub use save_composer::*;
pub use set_sampling::*;
pub use stop_suggestion::*;
pub use submit_conversation::*;

/// Sampling parameters from the two a trainer sets; the rest keep their defaults. The error
/// names the parameter out of range.
#[cfg(feature = "ssr")]
pub(crate) fn sampling(
    temperature: Option<f64>,
    max_tokens: Option<usize>,
) -> Result<crate::model::SamplingParams, crate::error::ApiError> {
    let defaults = crate::model::SamplingParams::default();
    let sampling = crate::model::SamplingParams {
        temperature: temperature.unwrap_or(defaults.temperature),
        max_tokens: max_tokens.unwrap_or(defaults.max_tokens),
        ..defaults
    };
    sampling.check().map_err(|(field, message)| {
        crate::error::ApiError::field(crate::error::ErrorKind::Invalid, field, message)
    })?;
    Ok(sampling)
}

#[cfg(feature = "ssr")]
pub mod access {
    use crate::conversation::Conversation;
    use crate::domain::{Role, User};
    use crate::error::{ApiError, ErrorKind};
    use crate::ssr::state;
    use uuid::Uuid;

    /// The conversation, if the caller may read it: its owner, or a reviewer or admin.
    /// Someone else's conversation is answered as not found, so ids cannot be probed.
    pub fn for_reading(user: &User, conversation: Option<Conversation>) -> Result<Conversation, ApiError> {
        conversation
            .filter(|c| c.owner_id == user.id || user.role.allows(Role::Reviewer))
            .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "conversation not found"))
    }

    /// The conversation, if the caller owns it (only owners write); those who may only read
    /// it are told so.
    pub fn for_writing(user: &User, conversation: Option<Conversation>) -> Result<Conversation, ApiError> {
        let conversation = for_reading(user, conversation)?;
        if conversation.owner_id != user.id {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "only the trainer who owns this conversation may change it",
            ));
        }
        Ok(conversation)
    }

    pub async fn readable(user: &User, id: Uuid) -> Result<Conversation, ApiError> {
        for_reading(user, state()?.store.conversation(id).await?)
    }

    pub async fn writable(user: &User, id: Uuid) -> Result<Conversation, ApiError> {
        for_writing(user, state()?.store.conversation(id).await?)
    }

    /// Checks a free text (`what`: "a message", "a rationale", …) in `field` against the
    /// configured size limit (413) and for NUL characters (422), which PostgreSQL cannot hold.
    pub fn check_size(field: &str, what: &str, text: &str) -> Result<(), ApiError> {
        let max = state()?.limits.message_bytes;
        if text.len() > max {
            return Err(ApiError::field(
                ErrorKind::TooLarge,
                field,
                format!(
                    "{what} may hold {} KB at most; this one is {} KB",
                    max / 1024,
                    text.len().div_ceil(1024)
                ),
            ));
        }
        if text.contains('\0') {
            return Err(ApiError::field(
                ErrorKind::Invalid,
                field,
                format!("{what} cannot contain a NUL character"),
            ));
        }
        Ok(())
    }

    /// Checks a message's text: within the size limit, no NUL, not empty.
    pub fn check_text(text: &str) -> Result<(), ApiError> {
        check_size("text", "a message", text)?;
        if crate::validate::is_blank(text) {
            return Err(ApiError::field(
                ErrorKind::Invalid,
                "text",
                "a message needs some text (spaces and invisible characters alone do not count)",
            ));
        }
        Ok(())
    }
}

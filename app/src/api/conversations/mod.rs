//! Conversations: demonstrations and chats. Owners write their own; reviewers and admins
//! may read everyone's.

mod add_message;
mod create_conversation;
mod edit_message;
mod get_conversation;
mod submit_conversation;

pub use add_message::*;
pub use create_conversation::*;
pub use edit_message::*;
pub use get_conversation::*;
pub use submit_conversation::*;

/// Longest message accepted, in bytes; longer is refused, not cut.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Most messages one conversation may hold, all branches together.
pub const MAX_MESSAGES: usize = 200;

#[cfg(feature = "ssr")]
pub(crate) mod access {
    use crate::conversation::Conversation;
    use crate::domain::{Role, User};
    use crate::error::{ApiError, ErrorKind};
    use crate::ssr::state;
    use uuid::Uuid;

    /// The conversation, if the caller may read it: its owner, or a reviewer or admin.
    /// Someone else's conversation is answered as not found, so ids cannot be probed.
    pub async fn readable(user: &User, id: Uuid) -> Result<Conversation, ApiError> {
        let conversation = state()?.store.conversation(id).await?;
        conversation
            .filter(|c| c.owner_id == user.id || user.role.allows(Role::Reviewer))
            .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "conversation not found"))
    }

    /// The conversation, if the caller owns it (only owners write).
    pub async fn writable(user: &User, id: Uuid) -> Result<Conversation, ApiError> {
        let conversation = readable(user, id).await?;
        if conversation.owner_id != user.id {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "only the trainer who owns this conversation may change it",
            ));
        }
        Ok(conversation)
    }

    pub fn check_text(text: &str) -> Result<(), ApiError> {
        if text.len() > super::MAX_MESSAGE_BYTES {
            return Err(ApiError::field(
                ErrorKind::TooLarge,
                "text",
                format!(
                    "a message may hold {} KB at most; this one is {} KB",
                    super::MAX_MESSAGE_BYTES / 1024,
                    text.len().div_ceil(1024)
                ),
            ));
        }
        if text.trim().is_empty() {
            return Err(ApiError::field(ErrorKind::Invalid, "text", "a message needs some text"));
        }
        Ok(())
    }
}

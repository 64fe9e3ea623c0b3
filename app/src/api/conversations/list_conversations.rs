use crate::conversation::{ConversationKind, ConversationStatus, ConversationSummary};
use crate::error::ApiError;
use leptos::prelude::*;

/// Most conversations one list shows.
pub const LIST_LIMIT: i64 = 200;

/// The caller's own conversations, newest change first, filtered by kind, status and words
/// found in any turn.
#[server(endpoint = "conversations/mine")]
pub async fn my_conversations(
    kind: Option<ConversationKind>,
    status: Option<ConversationStatus>,
    #[server(default)] search: String,
) -> Result<Vec<ConversationSummary>, ApiError> {
    use crate::conversation::ConversationFilter;
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    if search.len() > 200 {
        return Err(ApiError::field(ErrorKind::TooLarge, "search", "search for 200 bytes at most"));
    }
    let filter = ConversationFilter { owner_id: Some(user.id), kind, status, search };
    Ok(state()?.store.list_conversations(&filter, LIST_LIMIT).await?)
}

use crate::conversation::{ConversationKind, ConversationStatus, WorkList};
use crate::error::ApiError;
use leptos::prelude::*;

/// Conversations on one page of the list.
pub const PAGE_SIZE: i64 = 50;

/// The caller's own conversations, newest change first, filtered by kind, status and words
/// found in any turn: the page after the first `offset`, with the total.
#[server(endpoint = "conversations/mine")]
pub async fn my_conversations(
    kind: Option<ConversationKind>,
    status: Option<ConversationStatus>,
    #[server(default)] search: String,
    #[server(default)] offset: i64,
) -> Result<WorkList, ApiError> {
    use crate::conversation::ConversationFilter;
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    if search.len() > 200 {
        return Err(ApiError::field(ErrorKind::TooLarge, "search", "search for 200 bytes at most"));
    }
    if offset < 0 {
        return Err(ApiError::field(ErrorKind::Invalid, "offset", "offset must not be negative"));
    }
    let filter = ConversationFilter { owner_id: Some(user.id), kind, status, search };
    let (items, total) = state()?.store.list_conversations(&filter, PAGE_SIZE, offset).await?;
    Ok(WorkList { items, total, offset, page_size: PAGE_SIZE })
}

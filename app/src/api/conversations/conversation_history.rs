use crate::conversation::Revision;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Every submitted version of a conversation, oldest first: for whoever may read it.
#[server(endpoint = "conversations/history")]
pub async fn conversation_history(conversation_id: Uuid) -> Result<Vec<Revision>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    super::access::readable(&user, conversation_id).await?;
    let revisions = state()?.store.conversation_revisions(conversation_id).await?;
    Ok(revisions
        .into_iter()
        .map(|r| Revision {
            revision: r.revision,
            submitted_by: r.submitted_by,
            submitted_at: r.submitted_at,
            conversation: r.snapshot,
        })
        .collect())
}

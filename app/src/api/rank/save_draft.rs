use crate::comparison::RankDraft;
use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

/// Most bytes of a stored draft (its rationale and labels included).
pub const MAX_DRAFT_BYTES: usize = 64 * 1024;

/// Keeps the trainer's unsubmitted board for a comparison they hold (or ranked before and
/// are revising), so a reload finds it. The draft must place exactly the comparison's
/// completions (422 naming `draft`); submitting the ranking deletes it.
#[server(endpoint = "rank/save_draft", input = Json)]
pub async fn save_rank_draft(comparison_id: Uuid, draft: RankDraft) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::clock::now_rfc3339;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let store = &state()?.store;
    let not_yours = || ApiError::new(ErrorKind::NotFound, "comparison not found among those given to you");
    let ranked = !store.rankings_of(comparison_id, user.id).await?.is_empty();
    if !ranked && store.held_lease(comparison_id, user.id, &now_rfc3339()).await?.is_none() {
        return Err(not_yours());
    }
    let comparison = store.comparison(comparison_id).await?.ok_or_else(not_yours)?;
    let ids: Vec<Uuid> = comparison.completions.iter().map(|c| c.id).collect();
    if !draft.fits(&ids) {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "draft",
            "the draft must place each completion of this comparison once",
        ));
    }
    let text = serde_json::to_string(&draft).map_err(|_| ApiError::internal())?;
    if text.len() > MAX_DRAFT_BYTES {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "draft",
            format!("a draft may hold {MAX_DRAFT_BYTES} bytes at most"),
        ));
    }
    Ok(store.save_rank_draft(comparison_id, user.id, &text).await?)
}

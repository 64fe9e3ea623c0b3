use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Stops one suggestion of a running request while the others go on: what it wrote so far
/// is stored, marked `cancelled`, and it can be used at once. Stopping one that has already
/// finished (or twice) changes nothing.
#[server(endpoint = "conversations/stop_suggestion")]
pub async fn stop_suggestion(conversation_id: Uuid, request_id: Uuid, index: i64) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    super::access::writable(&user, conversation_id).await?;
    if !(0..crate::model::MAX_ALTERNATIVES as i64).contains(&index) {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "index",
            format!("index must be between 0 and {}", crate::model::MAX_ALTERNATIVES - 1),
        ));
    }
    Ok(state()?.store.stop_suggestion(conversation_id, request_id, index, user.id).await?)
}

use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The trainer gives back the comparison they hold; it returns to the queue for others and
/// is not offered to them again.
#[server(endpoint = "rank/skip")]
pub async fn skip_comparison(comparison_id: Uuid) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::ssr::clock::now_rfc3339;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    state()?.store.skip_comparison(comparison_id, user.id, &now_rfc3339()).await.map_err(super::lease_gone)
}

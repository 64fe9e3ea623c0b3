use crate::comparison::BatchProgress;
use crate::error::ApiError;
use leptos::prelude::*;

/// An admin lists every batch with its progress, newest first.
#[server(endpoint = "rank/batches")]
pub async fn list_batches() -> Result<Vec<BatchProgress>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    Ok(state()?.store.comparison_batches().await?)
}

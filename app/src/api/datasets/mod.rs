//! Datasets: the imports made so far. (Files themselves go through two plain routes,
//! `POST /api/datasets/import` and `GET /api/datasets/export`, for upload progress and
//! streamed downloads.)

use crate::dataset::ImportSummary;
use crate::error::ApiError;
use leptos::prelude::*;

/// The newest imports. Admins only.
#[server(endpoint = "datasets/imports")]
pub async fn list_imports() -> Result<Vec<ImportSummary>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    Ok(state()?.store.imports().await?)
}

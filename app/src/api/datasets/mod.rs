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

/// A prompt drawn at random from the imported ones, for a chat to start from. Trainers.
#[server(endpoint = "datasets/random_prompt")]
pub async fn random_prompt() -> Result<String, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    require(Role::Trainer).await?;
    let drawn = state()?.store.random_prompt().await?;
    drawn.map(|(_, text)| text).ok_or_else(|| {
        ApiError::new(ErrorKind::NotFound, "no prompts are imported yet; an admin imports them on Datasets")
    })
}

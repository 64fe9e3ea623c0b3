use crate::error::ApiError;
use crate::model::ModelInfo;
use leptos::prelude::*;

/// The model new work uses on this server, if any, and whether it is ready. Any signed-in
/// user (pages that offer suggestions say when there is none).
#[server(endpoint = "model/status")]
pub async fn model_status() -> Result<Option<ModelInfo>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Trainer).await?;
    let state = state()?;
    Ok(state.models.active(state.store.as_ref()).await?.map(|served| served.model.info()))
}

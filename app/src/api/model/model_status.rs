use crate::error::ApiError;
use crate::model::ModelInfo;
use leptos::prelude::*;

/// The model this server runs, if any, and whether it is ready. Any signed-in user.
#[server(endpoint = "model/status")]
pub async fn model_status() -> Result<Option<ModelInfo>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Trainer).await?;
    Ok(state()?.model.as_ref().map(|model| model.info()))
}

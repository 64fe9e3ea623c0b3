use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Chooses the model new work uses, on every server instance. It must be one this server
/// runs, so that the choice takes effect. Admins only.
#[server(endpoint = "model/set_active")]
pub async fn set_active_model(model_version_id: Uuid) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    let state = state()?;
    if state.models.get(model_version_id).is_none() {
        return Err(ApiError::field(
            ErrorKind::Conflict,
            "model_version_id",
            "this server does not run that model; start it with --model for that file",
        ));
    }
    Ok(state.store.set_active_model(model_version_id).await?)
}

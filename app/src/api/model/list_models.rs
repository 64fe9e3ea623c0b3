use crate::error::ApiError;
use crate::model::ModelVersion;
use leptos::prelude::*;

/// Every model version recorded, with whether this server runs it, whether it is ready, and
/// which one is active. Admins only.
#[server(endpoint = "model/list")]
pub async fn list_models() -> Result<Vec<ModelVersion>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    let state = state()?;
    let active = state.models.active(state.store.as_ref()).await?.map(|served| served.version);
    let mut versions = state.store.list_model_versions().await?;
    for version in &mut versions {
        let served = state.models.get(version.id);
        version.served = served.is_some();
        version.ready = served.is_some_and(|s| s.model.info().ready);
        version.active = Some(version.id) == active;
    }
    Ok(versions)
}

use crate::domain::ApiKey;
use crate::error::ApiError;
use leptos::prelude::*;

/// Every API key, revoked ones included. Admins only.
#[server(endpoint = "keys/list")]
pub async fn list_api_keys() -> Result<Vec<ApiKey>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    Ok(state()?.store.list_api_keys().await?)
}

use crate::domain::ApiKey;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Revokes a key: calls with it get 401 from then on. Admins only.
#[server(endpoint = "keys/revoke")]
pub async fn revoke_api_key(key_id: Uuid) -> Result<ApiKey, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    Ok(state()?.store.revoke_api_key(key_id).await?)
}

use crate::domain::User;
use crate::error::ApiError;
use leptos::prelude::*;

/// Every account, oldest first. Admins only.
#[server(endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<User>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    Ok(state()?.store.list_users().await?)
}

use crate::domain::User;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Deactivates an account (it cannot sign in, and every session it has ends at once) or
/// reactivates it. Admins only. The last active admin cannot be deactivated (409 naming
/// `user_id`); what the account wrote stays, credited to it.
#[server(endpoint = "users/set_active")]
pub async fn set_active(user_id: Uuid, active: bool) -> Result<User, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    Ok(state()?.store.set_active(user_id, active).await?)
}

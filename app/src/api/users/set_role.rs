use crate::domain::{Role, User};
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Changes an account's role. Admins only; the last admin cannot give up the role, or
/// nobody could administer Parley any more.
#[server(endpoint = "users/set_role")]
pub async fn set_role(user_id: Uuid, role: Role) -> Result<User, ApiError> {
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    // The store refuses to demote the last admin in the same locked step as the write, so
    // two admins demoting themselves at once still leave one (409 naming `role`).
    Ok(state()?.store.set_role(user_id, role).await?)
}

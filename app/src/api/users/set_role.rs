use crate::domain::{Role, User};
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Changes an account's role. Admins only; the last admin cannot give up the role, or
/// nobody could administer Parley any more.
#[server(endpoint = "users/set_role")]
pub async fn set_role(user_id: Uuid, role: Role) -> Result<User, ApiError> {
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let admin = require(Role::Admin).await?;
    let store = state()?.store;
    if admin.id == user_id && role != Role::Admin && store.admin_count().await? <= 1 {
        return Err(ApiError::field(
            ErrorKind::Conflict,
            "role",
            "you are the only admin; make someone else admin first",
        ));
    }
    Ok(store.set_role(user_id, role).await?)
}

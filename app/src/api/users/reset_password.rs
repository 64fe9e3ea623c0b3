use crate::error::ApiError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A password made up for someone, shown once to the admin who passes it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimePassword {
    pub email: String,
    pub password: String,
}

/// Gives an account a new one-time password: its sessions end, and after signing in with
/// it the account must choose its own before anything else. Admins only.
#[server(endpoint = "users/reset_password")]
pub async fn reset_password(user_id: Uuid) -> Result<OneTimePassword, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{give_one_time_password, require, state};
    require(Role::Admin).await?;
    give_one_time_password(state()?.store.as_ref(), user_id).await
}

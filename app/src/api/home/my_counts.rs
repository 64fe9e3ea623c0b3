use crate::domain::UserCounts;
use crate::error::ApiError;
use leptos::prelude::*;

/// What the signed-in user has produced so far.
#[server(endpoint = "home/my_counts")]
pub async fn my_counts() -> Result<UserCounts, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    Ok(state()?.store.user_counts(user.id).await?)
}

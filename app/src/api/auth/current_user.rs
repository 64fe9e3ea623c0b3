use crate::domain::User;
use crate::error::ApiError;
use leptos::prelude::*;

/// The signed-in user, or `None`. Open to anyone.
#[server(endpoint = "auth/current_user")]
pub async fn current_user() -> Result<Option<User>, ApiError> {
    crate::ssr::caller().await
}

use crate::error::ApiError;
use leptos::prelude::*;

/// Whether Parley still needs its first admin. Open to anyone: it is what the sign-in page
/// asks before it offers the set-up form.
#[server(endpoint = "auth/setup_status")]
pub async fn needs_first_admin() -> Result<bool, ApiError> {
    use crate::ssr::state;
    Ok(state()?.store.user_count().await? == 0)
}

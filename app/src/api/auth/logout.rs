use crate::error::ApiError;
use leptos::prelude::*;

/// Ends the current session (on the server too, not just in the browser).
#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), ApiError> {
    use crate::ssr::{clear_session_cookie, state, token_hash};
    let state = state()?;
    if let Some(token) = crate::ssr::request_token() {
        state.store.delete_session(&token_hash(&token)).await?;
    }
    clear_session_cookie(&state);
    leptos_axum::redirect("/login");
    Ok(())
}

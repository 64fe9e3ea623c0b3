use crate::error::ApiError;
use leptos::prelude::*;

/// The signed-in user changes their own password: the current one first (401 naming
/// `current_password` when it is wrong), then the new one, checked as a new account's is.
/// Every other session of the account ends; this one stays signed in.
#[server(endpoint = "auth/change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), ApiError> {
    use crate::error::ErrorKind;
    use crate::ssr::{caller, hash_password, request_token, state, token_hash, verify_password};
    use crate::validate::{PASSWORD_MAX_CHARS, check_password};
    let user = caller().await?.ok_or_else(ApiError::unauthenticated)?;
    let state = state()?;
    let not_yours =
        || ApiError::field(ErrorKind::BadCredentials, "current_password", "that is not your password");
    if current_password.chars().count() > PASSWORD_MAX_CHARS {
        return Err(not_yours());
    }
    check_password(&new_password, &user.email)
        .map_err(|err| ApiError { field: Some("new_password".into()), ..err })?;
    if new_password == current_password {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "new_password",
            "the new password must differ from the current one",
        ));
    }
    let stored = state.store.user_by_email(&user.email).await?.ok_or_else(ApiError::unauthenticated)?;
    if !verify_password(current_password, stored.password_hash).await? {
        return Err(not_yours());
    }
    let hash = hash_password(new_password).await?;
    let keep = request_token().map(|t| token_hash(&t));
    state.store.set_password(user.id, &hash, false, keep.as_deref()).await?;
    Ok(())
}

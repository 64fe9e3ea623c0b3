use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Creates the first admin and signs them in. Allowed only while Parley has no users.
#[server(endpoint = "auth/create_first_admin")]
pub async fn create_first_admin(request_id: Uuid, email: String, password: String) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::ssr::{NewUser, hash_password, state};
    use crate::validate::{check_email, check_password};

    let state = state()?;
    // Refused before the slow hash once set up (the store refuses it again atomically); a
    // retried first submit still reaches the store, which answers the admin it made.
    if state.store.user_count().await? > 0 && state.store.user_by_id(request_id).await?.is_none() {
        return Err(crate::ssr::StoreError::AlreadySetUp.into());
    }
    let email = check_email(&email)?;
    check_password(&password, &email)?;
    let password_hash = hash_password(password).await?;
    let user = state
        .store
        .create_first_admin(NewUser { id: request_id, email, password_hash, role: Role::Admin })
        .await?;
    super::login::start_session(&state, &user).await?;
    leptos_axum::redirect("/");
    Ok(())
}

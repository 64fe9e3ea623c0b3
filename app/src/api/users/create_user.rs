use crate::domain::{Role, User};
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Creates an account with a first password that the admin passes on. Admins only.
/// `request_id` is made by the form: a double-clicked or retried submit creates one account.
#[server(endpoint = "users/create")]
pub async fn create_user(
    request_id: Uuid,
    email: String,
    password: String,
    role: Role,
) -> Result<User, ApiError> {
    use crate::ssr::{NewUser, hash_password, require, state};
    use crate::validate::{check_email, check_password};
    require(Role::Admin).await?;
    let email = check_email(&email)?;
    check_password(&password, &email)?;
    let password_hash = hash_password(password).await?;
    Ok(state()?.store.create_user(NewUser { id: request_id, email, password_hash, role }).await?)
}

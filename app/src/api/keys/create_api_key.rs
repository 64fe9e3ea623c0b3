use crate::domain::NewApiKey;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Makes a key for the OpenAI-compatible API and returns its secret, once. Admins only.
#[server(endpoint = "keys/create")]
pub async fn create_api_key(request_id: Uuid, name: String) -> Result<NewApiKey, ApiError> {
    use super::{API_KEY_NAME_MAX_CHARS, API_KEY_PREFIX};
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{random_token, require, state, token_hash};
    let admin = require(Role::Admin).await?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::field(ErrorKind::Invalid, "name", "name the key (who or what uses it)"));
    }
    if name.chars().count() > API_KEY_NAME_MAX_CHARS {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "name",
            format!("name is longer than {API_KEY_NAME_MAX_CHARS} characters"),
        ));
    }
    let secret = format!("{API_KEY_PREFIX}{}", random_token());
    let key = state()?.store.create_api_key(request_id, name, &token_hash(&secret), Some(admin.id)).await?;
    Ok(NewApiKey { key, secret })
}

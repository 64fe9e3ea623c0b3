use crate::domain::Guidelines;
use crate::error::ApiError;
use leptos::prelude::*;

/// An admin replaces the guidelines of an area.
#[server(endpoint = "guidelines/save")]
pub async fn save_guidelines(
    area: String,
    #[server(default)] markdown: String,
) -> Result<Guidelines, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Admin).await?;
    super::check_area(&area)?;
    if markdown.len() > super::MAX_GUIDELINES_BYTES {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "markdown",
            format!(
                "guidelines may hold {} KB at most; these are {} KB",
                super::MAX_GUIDELINES_BYTES / 1024,
                markdown.len().div_ceil(1024)
            ),
        ));
    }
    if markdown.contains('\0') {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "markdown",
            "guidelines cannot contain a NUL character",
        ));
    }
    Ok(state()?.store.save_guidelines(&area, &markdown, user.id).await?)
}

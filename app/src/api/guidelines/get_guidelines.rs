use crate::domain::Guidelines;
use crate::error::ApiError;
use leptos::prelude::*;

/// The guidelines of an area ("write", "chat"), if an admin has written them.
#[server(endpoint = "guidelines/get")]
pub async fn get_guidelines(area: String) -> Result<Option<Guidelines>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Trainer).await?;
    super::check_area(&area)?;
    Ok(state()?.store.guidelines(&area).await?)
}

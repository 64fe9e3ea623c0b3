use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Saves the turn the owner is typing, so it survives a reload or another machine. Empty
/// text clears it.
#[server(endpoint = "conversations/save_composer")]
pub async fn save_composer(conversation_id: Uuid, #[server(default)] text: String) -> Result<(), ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    super::access::writable(&user, conversation_id).await?;
    if !text.trim().is_empty() {
        super::access::check_text(&text)?;
    }
    let text = Some(text.as_str()).filter(|t| !t.trim().is_empty());
    Ok(state()?.store.save_composer(conversation_id, text).await?)
}

use crate::conversation::{Conversation, ConversationKind};
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// Starts a draft conversation owned by the caller. `request_id` is its id, made by the
/// page, so a retried create stores one.
#[server(endpoint = "conversations/create")]
pub async fn create_conversation(
    request_id: Uuid,
    kind: ConversationKind,
    system_prompt: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<usize>,
) -> Result<Conversation, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{NewConversation, require, state};
    let user = require(Role::Trainer).await?;
    let system_prompt = system_prompt.filter(|p| !p.trim().is_empty());
    if let Some(prompt) = &system_prompt {
        super::access::check_text(prompt).map_err(|mut err| {
            err.field = Some("system_prompt".into());
            err
        })?;
    }
    let sampling = match (temperature, max_tokens) {
        (None, None) => None,
        _ => Some(super::sampling(temperature, max_tokens)?),
    };
    let new = NewConversation { id: request_id, kind, owner_id: user.id, system_prompt, sampling };
    Ok(state()?.store.create_conversation(new).await?)
}

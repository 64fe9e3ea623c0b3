use crate::error::ApiError;
use crate::model::SamplingParams;
use leptos::prelude::*;
use uuid::Uuid;

/// The owner sets how the model samples in this conversation from now on; every reply
/// keeps the parameters (and seed) it was written with.
#[server(endpoint = "conversations/set_sampling")]
pub async fn set_sampling(
    conversation_id: Uuid,
    temperature: Option<f64>,
    max_tokens: Option<usize>,
) -> Result<SamplingParams, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    super::access::writable(&user, conversation_id).await?;
    let sampling = super::sampling(temperature, max_tokens)?;
    state()?.store.set_sampling(conversation_id, &sampling).await?;
    Ok(sampling)
}

use crate::comparison::RankTask;
use crate::error::ApiError;
use leptos::prelude::*;
use uuid::Uuid;

/// The comparison the caller is to rank. Without `comparison_id`: the one they hold, else a
/// new lease on the next open one (none when the queue is empty for them). With it: that
/// comparison, if they hold it or ranked it before (then with their latest ranking, to
/// revise).
#[server(endpoint = "rank/task")]
pub async fn get_rank_task(comparison_id: Option<Uuid>) -> Result<Option<RankTask>, ApiError> {
    use crate::comparison::{ShownCompletion, shown_order};
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::clock::{now_rfc3339, rfc3339_in};
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let state = state()?;
    let store = &state.store;
    let now = now_rfc3339();
    let not_yours = || ApiError::new(ErrorKind::NotFound, "comparison not found among those given to you");
    let (id, lease, previous) = match comparison_id {
        None => {
            let until = rfc3339_in(state.limits.rank_lease_secs as i64);
            match store.lease_comparison(user.id, &now, &until).await? {
                Some(lease) => (lease.comparison_id, Some(lease), None),
                None => return Ok(None),
            }
        }
        Some(id) => match store.rankings_of(id, user.id).await?.pop() {
            Some(previous) => (id, None, Some(previous)),
            None => (id, Some(store.held_lease(id, user.id, &now).await?.ok_or_else(not_yours)?), None),
        },
    };
    let comparison = store.comparison(id).await?.ok_or_else(not_yours)?;
    // What the model was given when it sampled them; comparisons stored before that was
    // kept rebuild it from their conversation, as the sampler does.
    let (system_prompt, context) = match &comparison.context {
        Some(messages) => shown_context(messages),
        None => {
            let conversation = store.conversation(comparison.conversation_id).await?.ok_or_else(not_yours)?;
            shown_context(&conversation.chat_messages(conversation.compared_after(comparison.message_id)))
        }
    };
    let ids: Vec<Uuid> = comparison.completions.iter().map(|c| c.id).collect();
    let order = match &previous {
        Some(previous) => previous.shown_order.clone(),
        None => shown_order(user.id, id, &ids),
    };
    let completions = order
        .iter()
        .filter_map(|id| comparison.completions.iter().find(|c| c.id == *id))
        .map(|c| ShownCompletion { id: c.id, text: c.text.clone(), cut_off: c.finish_reason == "length" })
        .collect();
    // An unsubmitted board comes back, if it still fits this comparison.
    let draft = store
        .rank_draft(id, user.id)
        .await?
        .and_then(|text| serde_json::from_str::<crate::comparison::RankDraft>(&text).ok())
        .filter(|draft| draft.fits(&ids));
    let targets: Vec<crate::feedback::FeedbackTarget> =
        ids.iter().map(|id| crate::feedback::FeedbackTarget::Completion { id: *id }).collect();
    let my_feedback = store.feedback_on(user.id, &targets).await?;
    Ok(Some(RankTask {
        comparison_id: id,
        lease_expires_at: lease.map(|l| l.expires_at),
        system_prompt,
        context,
        completions,
        previous,
        my_feedback,
        draft,
    }))
}

/// The system prompt and the turns of a sampled context, as the rank page shows them.
#[cfg(feature = "ssr")]
fn shown_context(
    messages: &[crate::model::ChatMessage],
) -> (Option<String>, Vec<crate::comparison::ContextTurn>) {
    use crate::conversation::Role;
    let mut system = None;
    let mut turns = vec![];
    for message in messages {
        match message.role.parse::<Role>() {
            Ok(Role::System) => system = Some(message.content.clone()),
            Ok(role) => turns.push(crate::comparison::ContextTurn { role, text: message.content.clone() }),
            Err(_) => {}
        }
    }
    (system, turns)
}

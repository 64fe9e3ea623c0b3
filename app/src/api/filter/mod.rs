//! The content filter: admins edit its policy (every version kept) and read its figures;
//! anyone who may read a conversation says where it was wrong.

use crate::error::ApiError;
use crate::filter::{DecisionList, FilterFeedback, FilterFeedbackKind, FilterOverview};
use leptos::prelude::*;
use uuid::Uuid;

/// Largest policy file.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// An admin saves a new version of the policy. A policy with a bad line is refused whole,
/// naming the line, and the one in force stays.
#[server(endpoint = "filter/save_policy")]
pub async fn save_policy(#[server(default)] policy: String) -> Result<FilterOverview, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::content_filter::Policy;
    use crate::ssr::{require, state};
    let user = require(Role::Admin).await?;
    if policy.len() > MAX_POLICY_BYTES {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "policy",
            format!("a policy may hold {} KB at most", MAX_POLICY_BYTES / 1024),
        ));
    }
    Policy::parse(&policy).map_err(|err| ApiError::field(ErrorKind::Invalid, "policy", err.to_string()))?;
    state()?.store.save_policy(&policy, user.id).await?;
    get_filter_overview().await
}

/// The policy in force, figures per category (flagged, false positives and negatives, and
/// precision from them), and the newest feedback on the filter.
#[server(endpoint = "filter/overview")]
pub async fn get_filter_overview() -> Result<FilterOverview, ApiError> {
    use crate::domain::Role;
    use crate::filter::PolicyVersion;
    use crate::ssr::content_filter::DEFAULT_POLICY;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    let store = state()?.store;
    let policy = store.latest_policy().await?.unwrap_or_else(|| PolicyVersion {
        version: 0,
        text: DEFAULT_POLICY.to_string(),
        created_at: String::new(),
    });
    Ok(FilterOverview {
        policy,
        categories: store.filter_stats().await?,
        feedback: store.recent_filter_feedback(50).await?,
        moderation: state()?.filter.external(),
    })
}

/// Most decisions one page of the list shows.
pub const DECISIONS_SHOWN: i64 = 200;

/// The filter's decisions, newest first, filtered by category, action (`flagged`, `warn`,
/// `block`, `passed`), source (`user` or `model`), policy version and days; with how many
/// match in all. Admins only.
#[server(endpoint = "filter/decisions")]
pub async fn list_filter_decisions(
    #[server(default)] category: String,
    #[server(default)] action: String,
    #[server(default)] source: String,
    #[server(default)] policy_version: Option<i64>,
    #[server(default)] days: Option<i64>,
) -> Result<DecisionList, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::filter::DecisionFilter;
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    if !["", "flagged", "warn", "block", "passed"].contains(&action.as_str()) {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "action",
            "action is flagged, warn, block or passed",
        ));
    }
    if !["", "user", "model"].contains(&source.as_str()) {
        return Err(ApiError::field(ErrorKind::Invalid, "source", "source is user or model"));
    }
    let filter = DecisionFilter { category, action, source, policy_version, days };
    Ok(state()?.store.filter_decisions(&filter, DECISIONS_SHOWN).await?)
}

/// The categories of the policy in force, for "should have been flagged as …".
#[server(endpoint = "filter/categories")]
pub async fn filter_categories() -> Result<Vec<String>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::{require, state};
    require(Role::Trainer).await?;
    let state = state()?;
    let policy = state.filter.policy(state.store.as_ref()).await?;
    Ok(policy.1.categories.iter().map(|c| c.name.clone()).collect())
}

/// The caller says the filter was wrong about a message of a conversation they may read:
/// a flag that was not unsafe (`false_positive`, naming one of its categories), or a text
/// that should have been flagged (`false_negative`, naming a category of the policy).
#[server(endpoint = "filter/feedback")]
pub async fn give_filter_feedback(
    conversation_id: Uuid,
    message_id: Uuid,
    kind: FilterFeedbackKind,
    category: String,
    #[server(default)] note: String,
) -> Result<FilterFeedback, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let conversation = super::conversations::access::readable(&user, conversation_id).await?;
    let message = conversation
        .messages
        .iter()
        .find(|m| m.id == message_id)
        .ok_or_else(|| ApiError::field(ErrorKind::NotFound, "message_id", "message not found"))?;
    let flagged = message.filter.as_ref().filter(|v| v.action.is_some()).map(|v| v.categories.clone());
    let known = filter_categories().await?;
    match (kind, &flagged) {
        (FilterFeedbackKind::FalsePositive, None) => {
            return Err(ApiError::field(ErrorKind::Invalid, "kind", "the filter did not flag this message"));
        }
        (FilterFeedbackKind::FalsePositive, Some(categories)) if !categories.contains(&category) => {
            return Err(ApiError::field(
                ErrorKind::Invalid,
                "category",
                format!("this message was flagged as {}", categories.join(", ")),
            ));
        }
        (FilterFeedbackKind::FalseNegative, _) if !known.contains(&category) => {
            return Err(ApiError::field(
                ErrorKind::Invalid,
                "category",
                format!("unknown category {category:?}; categories are {}", known.join(", ")),
            ));
        }
        _ => {}
    }
    super::conversations::access::check_size("note", "a note", &note)?;
    let feedback = FilterFeedback {
        message_id,
        user_id: user.id,
        kind,
        category,
        note: note.trim().to_string(),
        created_at: String::new(),
    };
    Ok(state()?.store.save_filter_feedback(&feedback).await?)
}

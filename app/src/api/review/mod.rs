//! Review of submitted demonstrations: reviewers take the next queued submission and accept,
//! reject with a reason, or edit and accept (their edit is a revision of their own); authors
//! see the verdicts on their work. Admins set which share of submissions is reviewed.

mod doubtful;
pub use doubtful::*;

use crate::error::ApiError;
use crate::review::{MyReview, Review, ReviewItem, ReviewPolicy, TurnEdit};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

/// How long a reviewer holds a submission they opened before another reviewer may take it.
#[cfg(feature = "ssr")]
const HOLD_MINUTES: i64 = 30;

#[cfg(feature = "ssr")]
const POLICY_KEY: &str = "review_policy";

#[cfg(feature = "ssr")]
async fn policy_in_force() -> Result<ReviewPolicy, ApiError> {
    let stored = crate::ssr::state()?.store.setting(POLICY_KEY).await?;
    Ok(stored.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default())
}

/// Why the policy queues the submission of this demonstration (read before it is
/// submitted), if it does.
#[cfg(feature = "ssr")]
pub(crate) async fn review_reason(
    conversation: &crate::conversation::Conversation,
) -> Result<Option<String>, ApiError> {
    use crate::conversation::ConversationKind;
    use crate::review::Verdict;
    if conversation.kind != ConversationKind::Demonstration {
        return Ok(None);
    }
    let store = crate::ssr::state()?.store;
    let policy = policy_in_force().await?;
    // Counted with this one: its first submit makes one more.
    let nth =
        store.submitted_demonstrations(conversation.owner_id).await? + i64::from(conversation.revision == 0);
    let rejected_before =
        store.reviews_of(conversation.id).await?.last().is_some_and(|r| r.verdict == Verdict::Rejected);
    let draw: f64 = rand::random();
    Ok(policy.queue_reason(nth, rejected_before, draw))
}

/// The review policy in force (reviewers see it; admins change it).
#[server(endpoint = "review/policy")]
pub async fn get_review_policy() -> Result<ReviewPolicy, ApiError> {
    crate::ssr::require(crate::domain::Role::Reviewer).await?;
    policy_in_force().await
}

/// Sets which submissions are reviewed: all of each trainer's first `first`, then
/// `share_percent` of the rest. Applies to submissions from now on.
#[server(endpoint = "review/set_policy")]
pub async fn set_review_policy(first: u32, share_percent: f64) -> Result<ReviewPolicy, ApiError> {
    use crate::error::ErrorKind;
    crate::ssr::require(crate::domain::Role::Admin).await?;
    let policy = ReviewPolicy { first, share_percent };
    policy.check().map_err(|(field, message)| ApiError::field(ErrorKind::Invalid, field, message))?;
    let text = serde_json::to_string(&policy).map_err(|_| ApiError::internal())?;
    crate::ssr::state()?.store.save_setting(POLICY_KEY, &text).await?;
    Ok(policy)
}

/// The next submission for the caller to review, held for them for 30 minutes; `None` when
/// nothing waits. Reviewers are not given their own work.
#[server(endpoint = "review/next")]
pub async fn next_review() -> Result<Option<ReviewItem>, ApiError> {
    use crate::ssr::clock::{now_rfc3339, rfc3339_in};
    let user = crate::ssr::require(crate::domain::Role::Reviewer).await?;
    let store = crate::ssr::state()?.store;
    let now = now_rfc3339();
    let until = rfc3339_in(HOLD_MINUTES * 60);
    let Some((id, reason)) = store.next_review(user.id, &now, &until).await? else { return Ok(None) };
    let conversation = store.conversation(id).await?.ok_or_else(|| {
        ApiError::new(crate::error::ErrorKind::NotFound, "the queued conversation was deleted")
    })?;
    let author_email = store.user_by_id(conversation.owner_id).await?.map(|u| u.email).unwrap_or_default();
    Ok(Some(ReviewItem {
        earlier: store.reviews_of(id).await?,
        waiting: store.review_queue_size().await?,
        queued_because: reason,
        author_email,
        conversation,
    }))
}

/// The caller's verdict on the revision they read. `reject` needs a reason. `edits` change
/// turns' texts before accepting: the edited conversation is stored as a revision submitted
/// by the reviewer. `request_id` is the verdict's id, so a retried submit stores one.
#[server(endpoint = "review/submit", input = Json)]
pub async fn submit_review(
    request_id: Uuid,
    conversation_id: Uuid,
    revision: i64,
    verdict: String,
    #[server(default)] reason: String,
    #[server(default)] edits: Vec<TurnEdit>,
) -> Result<Review, ApiError> {
    use crate::api::conversations::access::{check_size, check_text};
    use crate::conversation::ConversationStatus;
    use crate::error::ErrorKind;
    use crate::review::{MAX_REASON_CHARS, Verdict};
    use crate::ssr::NewReview;
    let user = crate::ssr::require(crate::domain::Role::Reviewer).await?;
    let store = crate::ssr::state()?.store;
    let verdict: Verdict = verdict.parse().map_err(|_| {
        ApiError::field(
            ErrorKind::Invalid,
            "verdict",
            format!("must be accepted or rejected, not {verdict:?}"),
        )
    })?;
    let reason = reason.trim().to_string();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "reason",
            format!("a reason may hold {MAX_REASON_CHARS} characters at most"),
        ));
    }
    check_size("reason", "a reason", &reason)?;
    if verdict == Verdict::Rejected && reason.is_empty() {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "reason",
            "say why it is rejected: the author reads it",
        ));
    }
    if verdict == Verdict::Rejected && !edits.is_empty() {
        return Err(ApiError::field(ErrorKind::Invalid, "edits", "edits are kept only with an accept"));
    }
    // A missing conversation is answered as one the caller does not hold (409): the store
    // refuses every verdict but the holder's at the queued revision, alike.
    let mut conversation = store
        .conversation(conversation_id)
        .await?
        .ok_or_else(|| ApiError::field(ErrorKind::Conflict, "conversation_id", crate::review::NOT_HELD))?;
    if conversation.owner_id == user.id {
        return Err(ApiError::new(ErrorKind::Forbidden, "reviewers do not review their own work"));
    }
    // The reviewer's text is checked and judged like any turn: a blocked edit is refused.
    let filter = crate::ssr::state()?.filter;
    let mut edit_decisions = vec![];
    for edit in &edits {
        check_text(&edit.text)?;
        let decision = filter.decide(store.as_ref(), &edit.text).await?;
        if decision.verdict.action == Some(crate::filter::Action::Block) {
            return Err(ApiError::field(
                ErrorKind::Invalid,
                "edits",
                format!(
                    "the content filter blocks the edit of turn {} ({})",
                    edit.message_id,
                    decision.verdict.categories.join(", ")
                ),
            ));
        }
        edit_decisions.push((edit.message_id, decision));
    }
    let edited = if edits.is_empty() {
        None
    } else {
        for edit in &edits {
            let Some(message) = conversation.messages.iter_mut().find(|m| m.id == edit.message_id) else {
                return Err(ApiError::field(
                    ErrorKind::Invalid,
                    "edits",
                    format!("message {} is not in this conversation", edit.message_id),
                ));
            };
            if matches!(message.author, crate::conversation::Author::Model { .. }) {
                return Err(ApiError::field(
                    ErrorKind::Invalid,
                    "edits",
                    format!("turn {} was written by a model and keeps its text", edit.message_id),
                ));
            }
            message.text = edit.text.clone();
        }
        conversation.revision = revision + 1;
        conversation.status = ConversationStatus::Accepted;
        let snapshot = serde_json::to_string(&conversation).map_err(|_| ApiError::internal())?;
        Some((edits, snapshot))
    };
    Ok(store
        .save_review(NewReview {
            id: request_id,
            conversation_id,
            revision,
            reviewer_id: user.id,
            verdict,
            reason,
            edited,
            edit_decisions,
        })
        .await?)
}

/// The latest verdict on each of the caller's own conversations, newest first.
#[server(endpoint = "review/mine")]
pub async fn my_reviews() -> Result<Vec<MyReview>, ApiError> {
    let user = crate::ssr::require(crate::domain::Role::Trainer).await?;
    Ok(crate::ssr::state()?.store.my_reviews(user.id).await?)
}

/// Every verdict on a conversation the caller may read (its owner, reviewers, admins).
#[server(endpoint = "review/of")]
pub async fn conversation_reviews(conversation_id: Uuid) -> Result<Vec<Review>, ApiError> {
    let user = crate::ssr::require(crate::domain::Role::Trainer).await?;
    crate::api::conversations::access::readable(&user, conversation_id).await?;
    Ok(crate::ssr::state()?.store.reviews_of(conversation_id).await?)
}

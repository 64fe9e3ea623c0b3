//! The store port: what server functions need from persistence. `server/src/store`
//! implements it with sqlx for SQLite and PostgreSQL.

use crate::domain::{ApiKey, Role, User, UserCounts};
use async_trait::async_trait;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an account with this e-mail already exists")]
    DuplicateEmail,
    #[error("the first admin already exists")]
    AlreadySetUp,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A retried request whose first try made a thing that cannot be shown again.
    #[error("this {0} was made already")]
    AlreadyMade(&'static str),
    /// The thing changed since the caller read it (another revision, another status).
    #[error("this {0} changed since it was read")]
    Stale(&'static str),
    /// The write would break a rule that holds across rows (the last admin, a turn that a
    /// comparison references): 409 naming the field.
    #[error("{field}: {message}")]
    Conflict { field: &'static str, message: String },
    #[error("database: {0}")]
    Backend(String),
}

/// What `begin_login_attempt` checks.
pub struct LoginGate {
    pub account_key: String,
    pub address_key: String,
    pub account_limit: i64,
    pub address_limit: i64,
    /// Start of the window (RFC 3339) and now.
    pub since: String,
    pub now: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LoginAttempt {
    Open,
    /// Over a limit; the oldest failure in the window of the key that refused.
    Refused {
        oldest: Option<String>,
    },
}

/// A reviewer's verdict on the revision they read.
pub struct NewReview {
    /// Made by the client, so a retried or double-clicked verdict is stored once.
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub revision: i64,
    pub reviewer_id: Uuid,
    pub verdict: crate::review::Verdict,
    pub reason: String,
    /// The turns the reviewer changed, and the conversation as it then reads (the snapshot of
    /// the reviewer's revision).
    pub edited: Option<(Vec<crate::review::TurnEdit>, String)>,
    /// The content filter's decision on each edited turn's new text, stored with the edit.
    pub edit_decisions: Vec<(Uuid, FilterDecision)>,
}

pub struct NewUser {
    /// Made by the client, so a retried submit finds the account it already made.
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
}

pub struct NewConversation {
    /// Made by the client, so a retried create stores one conversation.
    pub id: Uuid,
    pub kind: crate::conversation::ConversationKind,
    pub owner_id: Uuid,
    pub system_prompt: Option<String>,
    pub sampling: Option<crate::model::SamplingParams>,
}

pub struct NewMessage {
    /// Made by the client, so a retried send stores one message.
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub role: crate::conversation::Role,
    pub text: String,
    pub author: crate::conversation::Author,
    pub suggestion: Option<crate::conversation::SuggestionTaken>,
    /// The stored suggestion (request id, index) the turn was started from, marked taken.
    pub taken_from: Option<(Uuid, i64)>,
    /// The content filter's decision on the text, stored in the same transaction as the
    /// turn: a turn is never stored without one (a retried send finds both).
    pub decision: Option<FilterDecision>,
}

/// A conversation submitted by its owner.
pub struct Submission {
    pub conversation_id: Uuid,
    pub by: Uuid,
    /// Made by the client; `None` from callers that cannot retry (the command line, tests).
    pub request_id: Option<Uuid>,
    /// Why the review policy queues this revision, when it does. When it does not, a queue
    /// row left from an earlier revision moves to this one (it still waits for review).
    pub review_reason: Option<String>,
}

/// What the content filter decided about a text, and the hits (JSON) behind it.
#[derive(Debug, Clone)]
pub struct FilterDecision {
    pub verdict: crate::filter::Verdict,
    pub hits: String,
}

/// Suggestions made by one request, stored when its generation ends.
pub struct NewSuggestions {
    pub request_id: Uuid,
    pub conversation_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub role: crate::conversation::Role,
    pub model_version_id: Uuid,
    /// Alternative `i` used this with seed `sampling.seed + i`.
    pub sampling: crate::model::SamplingParams,
    /// Index, text and finish reason of the alternatives stored now: each is stored as it
    /// finishes, the rest when the request ends.
    pub texts: Vec<(usize, String, String)>,
    pub requested_by: Uuid,
}

/// One submitted version of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRevision {
    pub revision: i64,
    pub submitted_by: Uuid,
    pub submitted_at: String,
    pub snapshot: crate::conversation::Conversation,
}

pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
}

pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: Uuid,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

/// A batch of comparison tasks, drawn with a recorded seed.
pub struct NewComparisonBatch {
    pub id: Uuid,
    pub created_by: Uuid,
    pub seed: u64,
    /// Completions per comparison.
    pub k: i64,
    /// Rankings each comparison needs, from different trainers.
    pub overlap: i64,
    pub include_original: bool,
    pub allow_own: bool,
    /// Drawn from imported prompts: each comparison's chat is made with the prompt as its
    /// user turn.
    pub from_prompts: bool,
    /// Parameters of the sampled completions; their seeds derive from `seed`.
    pub sampling: crate::model::SamplingParams,
    /// Drawn by a reward model's uncertainty: `comparisons` is the pool.
    pub uncertainty: Option<crate::comparison::UncertaintyDraw>,
    pub comparisons: Vec<NewComparison>,
}

pub struct NewComparison {
    pub id: Uuid,
    /// Place in the draw, from 0.
    pub position: i64,
    pub conversation_id: Uuid,
    /// The model-written message whose context is compared (or, for a prompt, the user turn
    /// to be made).
    pub message_id: Uuid,
    pub source_owner_id: Uuid,
    /// An imported prompt: the store makes a chat (`conversation_id`) whose one user turn
    /// (`message_id`) is the prompt's text.
    pub prompt_id: Option<Uuid>,
}

/// A comparison whose completions a server has claimed to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingComparison {
    pub id: Uuid,
    pub position: i64,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub batch_seed: u64,
    pub k: i64,
    pub include_original: bool,
    pub sampling: crate::model::SamplingParams,
    /// The reward-model run that scores its completions (uncertainty draws only).
    pub reward_run_id: Option<Uuid>,
}

/// A comparison with its completions (in sampling order, the original first when it is one).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredComparison {
    pub id: Uuid,
    pub batch_id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub source_owner_id: Uuid,
    /// pending, ready or failed.
    pub status: String,
    pub completions: Vec<crate::comparison::Completion>,
    /// The messages the completions were sampled from (the system prompt first, when there
    /// is one), as they stood then; none for comparisons not sampled yet.
    pub context: Option<Vec<crate::model::ChatMessage>>,
}

/// A ranking to store. The first from a trainer needs their unexpired lease; later ones are
/// revisions of it.
pub struct NewRanking {
    /// Made by the client, so a retried submit stores one ranking.
    pub id: Uuid,
    pub comparison_id: Uuid,
    pub ranked_by: Uuid,
    pub ranking: Option<crate::ranking::Ranking>,
    pub cannot_rank: Option<String>,
    pub shown_order: Vec<Uuid>,
    pub labels: std::collections::BTreeMap<Uuid, Vec<String>>,
    pub rationale: String,
}

/// A slot of a comparison that a trainer holds until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub comparison_id: Uuid,
    pub slot: i64,
    pub expires_at: String,
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn user_count(&self) -> Result<i64, StoreError>;
    /// Creates the first admin, only while no user exists; the check and the insert are
    /// one transaction. A retry with the same id returns the account made the first time.
    async fn create_first_admin(&self, user: NewUser) -> Result<User, StoreError>;
    /// Creates an account. A retry with the same id (and e-mail) returns the stored account.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError>;
    /// The people's accounts (not those standing for an import's source).
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Every account's id and name: the people's e-mails, and `import:<source>` for the
    /// accounts credited with imported rankings.
    async fn account_names(&self) -> Result<Vec<(Uuid, String)>, StoreError>;
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError>;
    async fn admin_count(&self) -> Result<i64, StoreError>;
    async fn set_role(&self, user_id: Uuid, role: Role) -> Result<User, StoreError>;
    /// Deactivates an account (its sessions end in the same step) or reactivates it; the
    /// last active admin is refused (`Conflict` naming `user_id`).
    async fn set_active(&self, user_id: Uuid, active: bool) -> Result<User, StoreError>;
    /// Sets a password hash (`one_time`: the account must choose its own next) and ends the
    /// account's sessions, except the one whose token hash is `keep`.
    async fn set_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        one_time: bool,
        keep: Option<&str>,
    ) -> Result<User, StoreError>;
    async fn user_counts(&self, user_id: Uuid) -> Result<UserCounts, StoreError>;

    async fn create_session(&self, session: SessionRecord) -> Result<(), StoreError>;
    /// The user of an unexpired session.
    async fn session_user(&self, token_hash: &str, now: &str) -> Result<Option<User>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Records a failed sign-in under a key (an e-mail or an address).
    async fn record_login_failure(&self, key: &str, at: &str) -> Result<(), StoreError>;
    /// Failed sign-ins under `key` since `since`, and the oldest of them.
    async fn login_failures_since(&self, key: &str, since: &str)
    -> Result<(i64, Option<String>), StoreError>;
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
    /// Counts a sign-in attempt before its password is checked, in one locked step: refused
    /// when the account has `gate.account_limit` failures in the window, or when the address
    /// has `gate.address_limit` and the account has any (an account with none still signs in
    /// from a flooding address). An attempt let through is stored as a failure of the
    /// account at once; a right password clears it.
    async fn begin_login_attempt(&self, gate: &LoginGate) -> Result<LoginAttempt, StoreError>;

    /// Stores a new API key by the hash of its secret. A retry with the same id is refused
    /// with `AlreadyMade` (the secret shown the first time is not kept).
    async fn create_api_key(
        &self,
        id: Uuid,
        name: &str,
        secret_hash: &str,
        created_by: Option<Uuid>,
    ) -> Result<ApiKey, StoreError>;
    /// The unrevoked key with this secret hash.
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(&self, id: Uuid) -> Result<ApiKey, StoreError>;

    /// Records a model version (once per fingerprint) and returns its id.
    async fn register_model(&self, info: &crate::model::ModelInfo) -> Result<Uuid, StoreError>;
    /// Every recorded version, oldest first; `served`, `ready` and `active` left false.
    async fn list_model_versions(&self) -> Result<Vec<crate::model::ModelVersion>, StoreError>;
    async fn active_model(&self) -> Result<Option<Uuid>, StoreError>;
    async fn set_active_model(&self, id: Uuid) -> Result<(), StoreError>;

    /// Creates a draft conversation; a retry with the same id returns the stored one.
    async fn create_conversation(
        &self,
        conversation: NewConversation,
    ) -> Result<crate::conversation::Conversation, StoreError>;
    /// A conversation with all its messages (every branch).
    async fn conversation(&self, id: Uuid) -> Result<Option<crate::conversation::Conversation>, StoreError>;
    /// Adds a message under `parent_id` (a new branch when it has siblings). A retry with the
    /// same id returns the stored message. The parent must be in the same conversation.
    async fn add_message(
        &self,
        conversation_id: Uuid,
        message: NewMessage,
    ) -> Result<crate::conversation::Message, StoreError>;
    /// Replaces a message's text (and the suggestion it started from, if any).
    /// Replaces a turn's text; the filter's decision on the new text (if given) is stored in
    /// the same transaction.
    async fn edit_message(
        &self,
        id: Uuid,
        text: &str,
        suggestion: Option<crate::conversation::SuggestionTaken>,
        decision: Option<&FilterDecision>,
    ) -> Result<crate::conversation::Message, StoreError>;
    /// Marks the conversation submitted and keeps this version as a new revision.
    /// Marks the conversation submitted, keeps this version as a new revision and queues it
    /// for review, all in one transaction. A request id seen before answers the
    /// conversation as it stands, and stores nothing more.
    async fn submit_conversation(
        &self,
        submission: Submission,
    ) -> Result<crate::conversation::Conversation, StoreError>;
    async fn conversation_revisions(&self, id: Uuid) -> Result<Vec<ConversationRevision>, StoreError>;
    /// Sets the sampling parameters new model turns use.
    async fn set_sampling(&self, id: Uuid, sampling: &crate::model::SamplingParams)
    -> Result<(), StoreError>;
    /// Saves the turn being typed (none clears it).
    async fn save_composer(&self, id: Uuid, text: Option<&str>) -> Result<(), StoreError>;
    /// Stores suggestions of one request; one already stored under its request and index
    /// keeps its first text (a retry, or the rest stored after the first finished).
    async fn save_suggestions(&self, new: NewSuggestions) -> Result<(), StoreError>;
    /// Records that `user` stopped suggestion `index` of a running request. Any server
    /// instance may hold the stream: the one that does reads this while it runs.
    async fn stop_suggestion(
        &self,
        conversation_id: Uuid,
        request_id: Uuid,
        index: i64,
        user: Uuid,
    ) -> Result<(), StoreError>;
    /// The indices of a request's suggestions in a conversation that have been stopped.
    async fn stopped_suggestions(
        &self,
        conversation_id: Uuid,
        request_id: Uuid,
    ) -> Result<Vec<i64>, StoreError>;
    /// Makes `order` (message ids) the whole of a linear conversation: turns left out are
    /// deleted, the rest chained in this order. One transaction.
    async fn rearrange(
        &self,
        id: Uuid,
        order: &[Uuid],
    ) -> Result<crate::conversation::Conversation, StoreError>;
    /// Conversations matching the filter, most recently changed first: `limit` of them after
    /// the first `offset`, and how many match in all.
    async fn list_conversations(
        &self,
        filter: &crate::conversation::ConversationFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<crate::conversation::ConversationSummary>, i64), StoreError>;
    /// Stores a batch with its comparisons (pending) and `overlap` open slots each, in one
    /// transaction; a batch whose id is stored already stays as it is (a retried create).
    async fn create_comparison_batch(&self, batch: NewComparisonBatch) -> Result<(), StoreError>;
    /// Model-written replies in chats that no comparison has drawn yet, as (conversation,
    /// message, conversation owner), in a fixed order so that a seeded draw repeats.
    async fn comparison_candidates(&self) -> Result<Vec<(Uuid, Uuid, Uuid)>, StoreError>;
    /// Imported prompts that no comparison has drawn yet, in a fixed order.
    async fn prompt_candidates(&self) -> Result<Vec<Uuid>, StoreError>;
    /// Every batch with its progress, newest first.
    async fn comparison_batches(&self) -> Result<Vec<crate::comparison::BatchProgress>, StoreError>;
    /// Claims the next pending comparison nobody holds (or whose claim ended before `now`)
    /// until `until`; across server instances only one gets it.
    async fn claim_pending_comparison(
        &self,
        now: &str,
        until: &str,
    ) -> Result<Option<PendingComparison>, StoreError>;
    /// Stores the completions of a pending comparison and the context they continue, and
    /// makes it ready to rank, in one transaction. With `uncertainty` (a batch drawn by it)
    /// the comparison waits, scored, until its pool is sampled; the last of the pool to be
    /// sampled (or to fail) queues the least sure and passes over the others.
    async fn save_completions(
        &self,
        comparison_id: Uuid,
        context: &[crate::model::ChatMessage],
        completions: Vec<crate::comparison::Completion>,
        uncertainty: Option<f64>,
    ) -> Result<(), StoreError>;
    /// Marks a pending comparison failed, with the reason.
    async fn fail_comparison(&self, comparison_id: Uuid, error: &str) -> Result<(), StoreError>;
    async fn comparison(&self, id: Uuid) -> Result<Option<StoredComparison>, StoreError>;
    /// The caller's unexpired lease, else a new one on an open slot of the oldest ready
    /// comparison they have not ranked, skipped nor hold, and that is not drawn from their
    /// own conversation unless its batch allows it. Two callers never get the same slot,
    /// across server instances. None when nothing is open.
    async fn lease_comparison(
        &self,
        user: Uuid,
        now: &str,
        expires_at: &str,
    ) -> Result<Option<Lease>, StoreError>;
    /// The caller's unexpired lease on this comparison.
    async fn held_lease(
        &self,
        comparison_id: Uuid,
        user: Uuid,
        now: &str,
    ) -> Result<Option<Lease>, StoreError>;
    /// Gives the caller's lease back, and remembers the skip so they are not offered it again.
    async fn skip_comparison(&self, comparison_id: Uuid, user: Uuid, now: &str) -> Result<(), StoreError>;
    /// Stores a ranking. The author's first one completes the slot they hold (refused with
    /// `NotFound("lease")` unless they hold an unexpired lease at `now`); a later one is a
    /// new revision that keeps the earlier. A retry with the same id returns the stored one.
    async fn submit_ranking(
        &self,
        ranking: NewRanking,
        now: &str,
    ) -> Result<crate::comparison::SubmittedRanking, StoreError>;
    /// Keeps a trainer's unsubmitted board (JSON) for a comparison, replacing the last one.
    async fn save_rank_draft(&self, comparison_id: Uuid, user: Uuid, draft: &str) -> Result<(), StoreError>;
    /// The trainer's unsubmitted board for a comparison (JSON), if any.
    async fn rank_draft(&self, comparison_id: Uuid, user: Uuid) -> Result<Option<String>, StoreError>;
    async fn delete_rank_draft(&self, comparison_id: Uuid, user: Uuid) -> Result<(), StoreError>;
    /// The caller's rankings of one comparison, every revision, oldest first.
    async fn rankings_of(
        &self,
        comparison_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<crate::comparison::SubmittedRanking>, StoreError>;
    /// Rankings the trainer submitted since `since`, and the slots still open to them.
    async fn rank_progress(
        &self,
        user: Uuid,
        since: &str,
        now: &str,
    ) -> Result<crate::comparison::RankProgress, StoreError>;
    /// The trainer's latest rankings (their newest revision each), newest first.
    async fn recent_rankings(
        &self,
        user: Uuid,
        limit: i64,
    ) -> Result<Vec<crate::comparison::RankedItem>, StoreError>;
    /// Stores one person's feedback on a message, replacing theirs if they gave some.
    async fn save_feedback(
        &self,
        feedback: &crate::feedback::Feedback,
    ) -> Result<crate::feedback::Feedback, StoreError>;
    /// The feedback `user` gave on the messages and suggestions of one conversation.
    async fn feedback_in(
        &self,
        conversation_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<crate::feedback::Feedback>, StoreError>;
    /// Feedback matching the filter, newest first (at most `limit`).
    async fn list_feedback(
        &self,
        filter: &crate::feedback::FeedbackFilter,
        limit: i64,
    ) -> Result<Vec<crate::feedback::FeedbackItem>, StoreError>;
    /// The caller's feedback on each of these targets that has some.
    async fn feedback_on(
        &self,
        user: Uuid,
        targets: &[crate::feedback::FeedbackTarget],
    ) -> Result<Vec<crate::feedback::Feedback>, StoreError>;
    /// The comparison a completion belongs to.
    async fn comparison_of_completion(&self, completion_id: Uuid) -> Result<Option<Uuid>, StoreError>;
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn save_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// The policy in force (the newest version), none while the built-in default is.
    async fn latest_policy(&self) -> Result<Option<crate::filter::PolicyVersion>, StoreError>;
    /// The version of the policy in force (0: the built-in default), without its text.
    async fn latest_policy_version(&self) -> Result<i64, StoreError>;
    /// The newest decisions that pass the filter (at most `limit`), and how many pass it.
    async fn filter_decisions(
        &self,
        filter: &crate::filter::DecisionFilter,
        limit: i64,
    ) -> Result<crate::filter::DecisionList, StoreError>;
    /// Stores a new policy version (the newest plus one).
    async fn save_policy(&self, text: &str, by: Uuid) -> Result<crate::filter::PolicyVersion, StoreError>;
    /// Records the filter's decision on a message (`hits` as JSON).
    async fn record_decision(
        &self,
        message_id: Uuid,
        verdict: &crate::filter::Verdict,
        hits: &str,
    ) -> Result<(), StoreError>;
    /// Stores one person's word on the filter's decision about a message, replacing theirs.
    async fn save_filter_feedback(
        &self,
        feedback: &crate::filter::FilterFeedback,
    ) -> Result<crate::filter::FilterFeedback, StoreError>;
    async fn filter_feedback_in(
        &self,
        conversation_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<crate::filter::FilterFeedback>, StoreError>;
    /// Per category: texts flagged (latest decisions) and the feedback on the filter.
    async fn filter_stats(&self) -> Result<Vec<crate::filter::CategoryStats>, StoreError>;
    /// The newest feedback on the filter, each with its message's text (shortened).
    async fn recent_filter_feedback(
        &self,
        limit: i64,
    ) -> Result<Vec<(crate::filter::FilterFeedback, String)>, StoreError>;
    /// The newest imports of datasets.
    async fn imports(&self) -> Result<Vec<crate::dataset::ImportSummary>, StoreError>;
    /// An imported prompt drawn at random, none while there is none.
    async fn random_prompt(&self) -> Result<Option<(Uuid, String)>, StoreError>;
    /// How many demonstrations the trainer has submitted (made in Parley, not imported).
    async fn submitted_demonstrations(&self, owner: Uuid) -> Result<i64, StoreError>;
    async fn reviews_of(&self, conversation_id: Uuid) -> Result<Vec<crate::review::Review>, StoreError>;
    /// Holds the next submission for the reviewer until `until`: (conversation, why queued).
    async fn next_review(
        &self,
        reviewer: Uuid,
        now: &str,
        until: &str,
    ) -> Result<Option<(Uuid, String)>, StoreError>;
    async fn review_queue_size(&self) -> Result<i64, StoreError>;
    /// Stores a verdict; `Stale` when the conversation is no longer the submitted revision read.
    async fn save_review(&self, review: NewReview) -> Result<crate::review::Review, StoreError>;
    /// The latest verdict on each of the owner's conversations, newest first.
    async fn my_reviews(&self, owner: Uuid) -> Result<Vec<crate::review::MyReview>, StoreError>;
    /// The latest finished reward-model run.
    async fn latest_reward_run(&self) -> Result<Option<crate::reward::RewardRun>, StoreError>;
    /// The rankings a reviewer has judged.
    async fn judged_rankings(&self) -> Result<Vec<Uuid>, StoreError>;
    /// Stores a verdict on a ranking found doubtful by run `run_id`, unless one is stored (a
    /// ranking gets one verdict, the first); a verdict that sets it aside marks the ranking
    /// in the same transaction. Answers the verdict stored.
    async fn judge_ranking(
        &self,
        verdict: crate::review::JudgedRanking,
        run_id: Uuid,
    ) -> Result<crate::review::JudgedRanking, StoreError>;
    /// Each trainer's latest ranking of a comparison where it ranks and is not set aside:
    /// (ranking, trainer, groups best first).
    async fn current_rankings(
        &self,
        comparison_id: Uuid,
    ) -> Result<Vec<(Uuid, Uuid, Vec<Vec<Uuid>>)>, StoreError>;
    /// The next ranked comparisons after `after` (by id, at most `limit` of them): each
    /// trainer's latest ranking of them where it ranks (not "cannot rank"), and the model
    /// version of each of their completions. Figures read every ranking a page at a time.
    async fn ranked_page(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<crate::stats::RankedPage, StoreError>;
    /// Work per person, day and kind since `since` ("" for all time).
    async fn activity(&self, since: &str) -> Result<Vec<crate::stats::Activity>, StoreError>;
    /// Per trainer and status, their submitted demonstrations made in Parley.
    async fn demonstration_outcomes(&self) -> Result<Vec<(Uuid, String, i64)>, StoreError>;
    /// Per author, demonstrations a reviewer edited before accepting.
    async fn edited_by_reviewers(&self) -> Result<Vec<(Uuid, i64)>, StoreError>;
    /// Categories and thumbs of the feedback given since `since`.
    async fn feedback_marks(&self, since: &str) -> Result<Vec<(Vec<String>, Option<i64>)>, StoreError>;
    /// Rankings still owed on comparisons ready to rank.
    async fn open_rank_slots(&self) -> Result<i64, StoreError>;
    async fn guidelines(&self, area: &str) -> Result<Option<crate::domain::Guidelines>, StoreError>;
    async fn save_guidelines(
        &self,
        area: &str,
        markdown: &str,
        by: Uuid,
    ) -> Result<crate::domain::Guidelines, StoreError>;
}

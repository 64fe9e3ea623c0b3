//! `SqlStore` as the app's `Store` port. The queries live in the files named after their
//! domain (users, sessions, login failures); this block only routes to them.

use super::SqlStore;
use app::domain::{ApiKey, Role, User, UserCounts};
use app::ssr::{LoginAttempt, LoginGate, NewUser, SessionRecord, Store, StoreError, StoredUser};
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl Store for SqlStore {
    async fn user_count(&self) -> Result<i64, StoreError> {
        self.count_users(None).await
    }
    async fn create_first_admin(&self, user: NewUser) -> Result<User, StoreError> {
        self.insert_first_admin(user).await
    }
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.insert_user(user).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError> {
        self.find_user_by_email(email).await
    }
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.all_users().await
    }
    async fn account_names(&self) -> Result<Vec<(Uuid, String)>, StoreError> {
        SqlStore::account_names(self).await
    }
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        // The inherent lookup, which the sign-in code also uses.
        SqlStore::user_by_id(self, id).await
    }
    async fn admin_count(&self) -> Result<i64, StoreError> {
        self.count_users(Some(Role::Admin)).await
    }
    async fn set_role(&self, user_id: Uuid, role: Role) -> Result<User, StoreError> {
        self.update_role(user_id, role).await
    }
    async fn set_active(&self, user_id: Uuid, active: bool) -> Result<User, StoreError> {
        self.update_active(user_id, active).await
    }
    async fn set_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        one_time: bool,
        keep: Option<&str>,
    ) -> Result<User, StoreError> {
        self.update_password(user_id, password_hash, one_time, keep).await
    }
    async fn user_counts(&self, user_id: Uuid) -> Result<UserCounts, StoreError> {
        self.counts_for(user_id).await
    }
    async fn create_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.insert_session(session).await
    }
    async fn session_user(&self, token_hash: &str, now: &str) -> Result<Option<User>, StoreError> {
        self.user_of_session(token_hash, now).await
    }
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.remove_session(token_hash).await
    }
    async fn record_login_failure(&self, key: &str, at: &str) -> Result<(), StoreError> {
        self.insert_login_failure(key, at).await
    }
    async fn login_failures_since(
        &self,
        key: &str,
        since: &str,
    ) -> Result<(i64, Option<String>), StoreError> {
        self.count_login_failures(key, since).await
    }
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.delete_login_failures(key).await
    }
    async fn begin_login_attempt(&self, gate: &LoginGate) -> Result<LoginAttempt, StoreError> {
        self.gate_login(gate).await
    }
    async fn create_api_key(
        &self,
        id: Uuid,
        name: &str,
        secret_hash: &str,
        created_by: Option<Uuid>,
    ) -> Result<ApiKey, StoreError> {
        self.insert_api_key(id, name, secret_hash, created_by).await
    }
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.find_api_key(secret_hash).await
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.all_api_keys().await
    }
    async fn revoke_api_key(&self, id: Uuid) -> Result<ApiKey, StoreError> {
        self.mark_api_key_revoked(id).await
    }
    async fn register_model(&self, info: &app::model::ModelInfo) -> Result<Uuid, StoreError> {
        self.upsert_model_version(info).await
    }
    async fn list_model_versions(&self) -> Result<Vec<app::model::ModelVersion>, StoreError> {
        self.all_model_versions().await
    }
    async fn active_model(&self) -> Result<Option<Uuid>, StoreError> {
        self.active_model_version().await
    }
    async fn set_active_model(&self, id: Uuid) -> Result<(), StoreError> {
        self.choose_active_model(id).await
    }
    async fn create_conversation(
        &self,
        conversation: app::ssr::NewConversation,
    ) -> Result<app::conversation::Conversation, StoreError> {
        self.insert_conversation(conversation).await
    }
    async fn conversation(&self, id: Uuid) -> Result<Option<app::conversation::Conversation>, StoreError> {
        self.load_conversation(id).await
    }
    async fn add_message(
        &self,
        conversation_id: Uuid,
        message: app::ssr::NewMessage,
    ) -> Result<app::conversation::Message, StoreError> {
        self.insert_message(conversation_id, message).await
    }
    async fn edit_message(
        &self,
        id: Uuid,
        text: &str,
        suggestion: Option<app::conversation::SuggestionTaken>,
        decision: Option<&app::ssr::FilterDecision>,
    ) -> Result<app::conversation::Message, StoreError> {
        self.update_message(id, text, suggestion, decision).await
    }
    async fn submit_conversation(
        &self,
        submission: app::ssr::Submission,
    ) -> Result<app::conversation::Conversation, StoreError> {
        self.submit(submission).await
    }
    async fn conversation_revisions(
        &self,
        id: Uuid,
    ) -> Result<Vec<app::ssr::ConversationRevision>, StoreError> {
        self.revisions(id).await
    }
    async fn save_composer(&self, id: Uuid, text: Option<&str>) -> Result<(), StoreError> {
        self.update_composer(id, text).await
    }
    async fn save_suggestions(&self, new: app::ssr::NewSuggestions) -> Result<(), StoreError> {
        self.insert_suggestions(new).await
    }
    async fn stop_suggestion(
        &self,
        conversation_id: Uuid,
        request_id: Uuid,
        index: i64,
        user: Uuid,
    ) -> Result<(), StoreError> {
        self.insert_suggestion_stop(conversation_id, request_id, index, user).await
    }
    async fn stopped_suggestions(
        &self,
        conversation_id: Uuid,
        request_id: Uuid,
    ) -> Result<Vec<i64>, StoreError> {
        self.suggestion_stops(conversation_id, request_id).await
    }
    async fn rearrange(
        &self,
        id: Uuid,
        order: &[Uuid],
    ) -> Result<app::conversation::Conversation, StoreError> {
        self.rearrange_turns(id, order).await
    }
    async fn list_conversations(
        &self,
        filter: &app::conversation::ConversationFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<app::conversation::ConversationSummary>, i64), StoreError> {
        self.summaries(filter, limit, offset).await
    }
    async fn guidelines(&self, area: &str) -> Result<Option<app::domain::Guidelines>, StoreError> {
        self.load_guidelines(area).await
    }
    async fn save_guidelines(
        &self,
        area: &str,
        markdown: &str,
        by: Uuid,
    ) -> Result<app::domain::Guidelines, StoreError> {
        self.store_guidelines(area, markdown, by).await
    }
    async fn set_sampling(&self, id: Uuid, sampling: &app::model::SamplingParams) -> Result<(), StoreError> {
        self.update_sampling(id, sampling).await
    }
    async fn create_comparison_batch(&self, batch: app::ssr::NewComparisonBatch) -> Result<(), StoreError> {
        self.insert_comparison_batch(batch).await
    }
    async fn comparison_candidates(&self) -> Result<Vec<(Uuid, Uuid, Uuid)>, StoreError> {
        self.candidates_for_comparison().await
    }
    async fn prompt_candidates(&self) -> Result<Vec<Uuid>, StoreError> {
        self.prompts_for_comparison().await
    }
    async fn comparison_batches(&self) -> Result<Vec<app::comparison::BatchProgress>, StoreError> {
        self.batch_progress().await
    }
    async fn claim_pending_comparison(
        &self,
        now: &str,
        until: &str,
    ) -> Result<Option<app::ssr::PendingComparison>, StoreError> {
        self.claim_pending(now, until).await
    }
    async fn save_completions(
        &self,
        comparison_id: Uuid,
        context: &[app::model::ChatMessage],
        completions: Vec<app::comparison::Completion>,
        uncertainty: Option<f64>,
    ) -> Result<(), StoreError> {
        self.insert_completions(comparison_id, context, completions, uncertainty).await
    }
    async fn fail_comparison(&self, comparison_id: Uuid, error: &str) -> Result<(), StoreError> {
        self.mark_failed(comparison_id, error).await
    }
    async fn comparison(&self, id: Uuid) -> Result<Option<app::ssr::StoredComparison>, StoreError> {
        self.find_comparison(id).await
    }
    async fn lease_comparison(
        &self,
        user: Uuid,
        now: &str,
        expires_at: &str,
    ) -> Result<Option<app::ssr::Lease>, StoreError> {
        self.lease_slot(user, now, expires_at).await
    }
    async fn held_lease(
        &self,
        comparison_id: Uuid,
        user: Uuid,
        now: &str,
    ) -> Result<Option<app::ssr::Lease>, StoreError> {
        self.lease_held(comparison_id, user, now).await
    }
    async fn skip_comparison(&self, comparison_id: Uuid, user: Uuid, now: &str) -> Result<(), StoreError> {
        self.skip(comparison_id, user, now).await
    }
    async fn submit_ranking(
        &self,
        ranking: app::ssr::NewRanking,
        now: &str,
    ) -> Result<app::comparison::SubmittedRanking, StoreError> {
        self.insert_ranking(ranking, now).await
    }
    async fn save_rank_draft(&self, comparison_id: Uuid, user: Uuid, draft: &str) -> Result<(), StoreError> {
        self.upsert_rank_draft(comparison_id, user, draft).await
    }
    async fn rank_draft(&self, comparison_id: Uuid, user: Uuid) -> Result<Option<String>, StoreError> {
        self.load_rank_draft(comparison_id, user).await
    }
    async fn delete_rank_draft(&self, comparison_id: Uuid, user: Uuid) -> Result<(), StoreError> {
        self.remove_rank_draft(comparison_id, user).await
    }
    async fn rankings_of(
        &self,
        comparison_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<app::comparison::SubmittedRanking>, StoreError> {
        self.rankings_by(comparison_id, user).await
    }
    async fn rank_progress(
        &self,
        user: Uuid,
        since: &str,
        now: &str,
    ) -> Result<app::comparison::RankProgress, StoreError> {
        self.progress_of(user, since, now).await
    }
    async fn recent_rankings(
        &self,
        user: Uuid,
        limit: i64,
    ) -> Result<Vec<app::comparison::RankedItem>, StoreError> {
        self.recent_rankings_of(user, limit).await
    }
    async fn save_feedback(
        &self,
        feedback: &app::feedback::Feedback,
    ) -> Result<app::feedback::Feedback, StoreError> {
        self.upsert_feedback(feedback).await
    }
    async fn feedback_in(
        &self,
        conversation_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<app::feedback::Feedback>, StoreError> {
        self.feedback_of(conversation_id, user).await
    }
    async fn list_feedback(
        &self,
        filter: &app::feedback::FeedbackFilter,
        limit: i64,
    ) -> Result<Vec<app::feedback::FeedbackItem>, StoreError> {
        self.feedback_list(filter, limit).await
    }
    async fn feedback_on(
        &self,
        user: Uuid,
        targets: &[app::feedback::FeedbackTarget],
    ) -> Result<Vec<app::feedback::Feedback>, StoreError> {
        self.feedback_on_targets(user, targets).await
    }
    async fn comparison_of_completion(&self, completion_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        self.comparison_of(completion_id).await
    }
    async fn submitted_demonstrations(&self, owner: Uuid) -> Result<i64, StoreError> {
        self.count_submitted_demonstrations(owner).await
    }
    async fn reviews_of(&self, conversation_id: Uuid) -> Result<Vec<app::review::Review>, StoreError> {
        self.reviews_for(conversation_id).await
    }
    async fn next_review(
        &self,
        reviewer: Uuid,
        now: &str,
        until: &str,
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        self.hold_next_review(reviewer, now, until).await
    }
    async fn review_queue_size(&self) -> Result<i64, StoreError> {
        self.count_review_queue().await
    }
    async fn save_review(&self, review: app::ssr::NewReview) -> Result<app::review::Review, StoreError> {
        self.insert_review(review).await
    }
    async fn my_reviews(&self, owner: Uuid) -> Result<Vec<app::review::MyReview>, StoreError> {
        self.latest_reviews_of(owner).await
    }
    async fn latest_reward_run(&self) -> Result<Option<app::reward::RewardRun>, StoreError> {
        self.latest_done_reward_run().await
    }
    async fn judged_rankings(&self) -> Result<Vec<Uuid>, StoreError> {
        SqlStore::judged_rankings(self).await
    }
    async fn judge_ranking(
        &self,
        verdict: app::review::JudgedRanking,
        run_id: Uuid,
    ) -> Result<app::review::JudgedRanking, StoreError> {
        SqlStore::judge_ranking(self, verdict, run_id).await
    }
    async fn current_rankings(
        &self,
        comparison_id: Uuid,
    ) -> Result<Vec<(Uuid, Uuid, Vec<Vec<Uuid>>)>, StoreError> {
        SqlStore::current_rankings(self, comparison_id).await
    }
    async fn ranked_page(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<app::stats::RankedPage, StoreError> {
        SqlStore::ranked_page(self, after, limit).await
    }
    async fn activity(&self, since: &str) -> Result<Vec<app::stats::Activity>, StoreError> {
        self.activity_since(since).await
    }
    async fn demonstration_outcomes(&self) -> Result<Vec<(Uuid, String, i64)>, StoreError> {
        SqlStore::demonstration_outcomes(self).await
    }
    async fn edited_by_reviewers(&self) -> Result<Vec<(Uuid, i64)>, StoreError> {
        SqlStore::edited_by_reviewers(self).await
    }
    async fn feedback_marks(&self, since: &str) -> Result<Vec<(Vec<String>, Option<i64>)>, StoreError> {
        SqlStore::feedback_marks(self, since).await
    }
    async fn open_rank_slots(&self) -> Result<i64, StoreError> {
        SqlStore::open_rank_slots(self).await
    }
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read_setting(key).await
    }
    async fn save_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write_setting(key, value).await
    }
    async fn latest_policy(&self) -> Result<Option<app::filter::PolicyVersion>, StoreError> {
        self.newest_policy().await
    }
    async fn latest_policy_version(&self) -> Result<i64, StoreError> {
        self.newest_policy_version().await
    }
    async fn filter_decisions(
        &self,
        filter: &app::filter::DecisionFilter,
        limit: i64,
    ) -> Result<app::filter::DecisionList, StoreError> {
        self.list_decisions(filter, limit).await
    }
    async fn save_policy(&self, text: &str, by: Uuid) -> Result<app::filter::PolicyVersion, StoreError> {
        self.insert_policy(text, by).await
    }
    async fn record_decision(
        &self,
        message_id: Uuid,
        verdict: &app::filter::Verdict,
        hits: &str,
    ) -> Result<(), StoreError> {
        self.insert_decision(message_id, verdict, hits).await
    }
    async fn save_filter_feedback(
        &self,
        feedback: &app::filter::FilterFeedback,
    ) -> Result<app::filter::FilterFeedback, StoreError> {
        self.upsert_filter_feedback(feedback).await
    }
    async fn filter_feedback_in(
        &self,
        conversation_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<app::filter::FilterFeedback>, StoreError> {
        self.filter_feedback_of(conversation_id, user).await
    }
    async fn filter_stats(&self) -> Result<Vec<app::filter::CategoryStats>, StoreError> {
        SqlStore::filter_stats(self).await
    }
    async fn recent_filter_feedback(
        &self,
        limit: i64,
    ) -> Result<Vec<(app::filter::FilterFeedback, String)>, StoreError> {
        SqlStore::recent_filter_feedback(self, limit).await
    }
    async fn imports(&self) -> Result<Vec<app::dataset::ImportSummary>, StoreError> {
        self.list_imports().await
    }
    async fn random_prompt(&self) -> Result<Option<(Uuid, String)>, StoreError> {
        self.draw_prompt().await
    }
}

//! Thumbs as TRL KTO rows, and what people said of the content filter.

use super::{ContextCache, ExportError, Exporter, db};
use crate::datasets::sink::Sink;
use app::model::ChatMessage;
use app::ssr::StoreError;
use futures::TryStreamExt;
use serde_json::json;

struct ThumbRow {
    user_id: String,
    thumbs: i64,
    target_kind: String,
    conversation_id: Option<String>,
    message_id: Option<String>,
    /// A suggestion's: the turn it would answer (none: the first turn).
    parent_id: Option<String>,
    text: Option<String>,
    model_version_id: Option<String>,
    context: Option<String>,
}
crate::store::from_columns!(ThumbRow {
    user_id,
    thumbs,
    target_kind,
    conversation_id,
    message_id,
    parent_id,
    text,
    model_version_id,
    context
});

// Thumbs on chat replies, on comparison completions, and on assistant-side suggestions shown
// while writing (a user-side suggestion is no assistant completion, so it is left out).
const THUMB_ROWS: &str = "select f.user_id, f.thumbs, f.target_kind, \
     coalesce(m.conversation_id, c.conversation_id, s.conversation_id) as conversation_id, \
     coalesce(m.id, c.message_id) as message_id, s.parent_id, coalesce(m.text, k.text, s.text) as text, \
     coalesce(m.author_model_version_id, k.model_version_id, s.model_version_id) as model_version_id, c.context \
     from feedback f left join messages m on f.target_kind = 'message' and m.id = f.target_id \
     left join completions k on f.target_kind = 'completion' and k.id = f.target_id \
     left join comparisons c on c.id = k.comparison_id \
     left join suggestions s on f.target_kind = 'suggestion' and s.role = 'assistant' \
        and s.id || ':' || cast(s.idx as text) = f.target_id \
     where f.thumbs is not null and f.target_kind in ('message', 'completion', 'suggestion') \
     and ($1 = '' or f.updated_at >= $1) and ($2 = '' or f.updated_at <= $2) and ($3 = '' or f.user_id = $3) \
     and ($4 = '' or coalesce(m.author_model_version_id, k.model_version_id, s.model_version_id) = $4) \
     order by coalesce(m.conversation_id, c.conversation_id, s.conversation_id), f.updated_at";

impl Exporter<'_> {
    /// Thumbs on chat replies, comparison completions and assistant-side suggestions as KTO
    /// rows: the turns the text followed as `prompt`, the text as `completion`.
    pub(super) async fn thumbs(&self, sink: &mut dyn Sink) -> Result<(), ExportError> {
        let mut rows = sqlx::query_as::<_, ThumbRow>(THUMB_ROWS)
            .bind(self.from())
            .bind(self.to())
            .bind(self.trainer_filter())
            .bind(self.model_filter())
            .fetch(self.store.pool());
        let mut contexts = ContextCache::default();
        while let Some(row) = rows.try_next().await.map_err(db)? {
            let (Some(conversation_id), Some(text)) = (row.conversation_id, row.text) else {
                continue;
            };
            let prompt: Vec<ChatMessage> = match (&row.context, row.target_kind.as_str(), &row.message_id) {
                (Some(stored), _, _) => {
                    serde_json::from_str(stored).map_err(|e| StoreError::Backend(e.to_string()))?
                }
                (None, "suggestion", _) => {
                    contexts.after(self.store, &conversation_id, row.parent_id.as_deref()).await?
                }
                (None, _, Some(message_id)) => contexts.of(self.store, &conversation_id, message_id).await?,
                (None, _, None) => continue,
            };
            let line = json!({
                "prompt": prompt,
                "completion": [{ "role": "assistant", "content": text }],
                "label": row.thumbs > 0,
                "model": self.model_name(row.model_version_id.as_deref()),
                "trainer": self.trainer(&row.user_id),
            });
            self.put(sink, &conversation_id, &line).await?;
        }
        Ok(())
    }
}

struct FilterFeedbackRow {
    message_id: String,
    user_id: String,
    kind: String,
    category: String,
    note: String,
    created_at: String,
    conversation_id: String,
    role: String,
    text: String,
    model_version_id: Option<String>,
    action: Option<String>,
    categories: Option<String>,
    policy_version: Option<i64>,
}
crate::store::from_columns!(FilterFeedbackRow {
    message_id,
    user_id,
    kind,
    category,
    note,
    created_at,
    conversation_id,
    role,
    text,
    model_version_id,
    action,
    categories,
    policy_version
});

const FILTER_FEEDBACK_ROWS: &str = "select ff.message_id, ff.user_id, ff.kind, ff.category, ff.note, ff.created_at, \
     m.conversation_id, m.role, m.text, m.author_model_version_id as model_version_id, d.action, d.categories, d.policy_version \
     from filter_feedback ff join messages m on m.id = ff.message_id \
     left join filter_decisions d on d.id = (select o.id from filter_decisions o where o.message_id = ff.message_id \
        order by o.created_at desc, o.id limit 1) \
     where ($1 = '' or ff.created_at >= $1) and ($2 = '' or ff.created_at <= $2) and ($3 = '' or ff.user_id = $3) \
     order by m.conversation_id, ff.created_at";

impl Exporter<'_> {
    /// What people said of the filter: each text with the filter's latest decision on it.
    pub(super) async fn filter_feedback(&self, sink: &mut dyn Sink) -> Result<(), ExportError> {
        let mut rows = sqlx::query_as::<_, FilterFeedbackRow>(FILTER_FEEDBACK_ROWS)
            .bind(self.from())
            .bind(self.to())
            .bind(self.trainer_filter())
            .fetch(self.store.pool());
        while let Some(row) = rows.try_next().await.map_err(db)? {
            let flagged: Vec<String> =
                row.categories.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
            let line = json!({
                "text": row.text,
                "role": row.role,
                "model": self.model_name(row.model_version_id.as_deref()),
                "feedback": row.kind,
                "category": row.category,
                "note": row.note,
                "filter_action": row.action.unwrap_or_else(|| "pass".into()),
                "filter_categories": flagged,
                "policy_version": row.policy_version.unwrap_or(0),
                "message_id": row.message_id,
                "conversation_id": row.conversation_id,
                "trainer": self.trainer(&row.user_id),
                "created_at": row.created_at,
            });
            self.put(sink, &row.conversation_id, &line).await?;
        }
        Ok(())
    }
}

//! Feedback on messages (one row per person and message, replaced when edited) and the
//! settings admins change at run time.

use super::{SqlStore, backend, json, shorten, to_json, uuid};
use app::conversation::ConversationKind;
use app::feedback::{Feedback, FeedbackFilter, FeedbackItem, FeedbackTarget};
use app::ssr::StoreError;
use app::ssr::clock::now_rfc3339;
use uuid::Uuid;

struct FeedbackRow {
    target_kind: String,
    target_id: String,
    user_id: String,
    thumbs: Option<i64>,
    categories: String,
    text: String,
    updated_at: String,
}
crate::store::from_columns!(FeedbackRow {
    target_kind,
    target_id,
    user_id,
    thumbs,
    categories,
    text,
    updated_at
});

impl FeedbackRow {
    fn into_feedback(self) -> Result<Feedback, StoreError> {
        let target = FeedbackTarget::parse(&self.target_kind, &self.target_id).ok_or_else(|| {
            StoreError::Backend(format!("stored feedback target {} does not read back", self.target_id))
        })?;
        Ok(Feedback {
            target,
            user_id: uuid(&self.user_id)?,
            thumbs: self.thumbs,
            categories: json(Some(&self.categories), &self.target_id)?.unwrap_or_default(),
            text: self.text,
            updated_at: self.updated_at,
        })
    }
}

/// Feedback with what the list shows beside it.
struct ItemRow {
    feedback: FeedbackRow,
    email: String,
    conversation_id: Option<String>,
    kind: Option<String>,
    model_version_id: Option<String>,
    model_name: Option<String>,
    target_text: Option<String>,
}
crate::store::from_columns!(ItemRow {
    email,
    conversation_id,
    kind,
    model_version_id,
    model_name,
    target_text
} within {
    feedback
});

/// Most rows a list reads before the category filter.
const SCAN_LIMIT: i64 = 5000;

impl SqlStore {
    pub(super) async fn upsert_feedback(&self, feedback: &Feedback) -> Result<Feedback, StoreError> {
        let now = now_rfc3339();
        sqlx::query(
            "insert into feedback (target_kind, target_id, user_id, thumbs, categories, text, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $7) on conflict (target_kind, target_id, user_id) do update set \
             thumbs = excluded.thumbs, categories = excluded.categories, text = excluded.text, \
             updated_at = excluded.updated_at",
        )
        .bind(feedback.target.kind())
        .bind(feedback.target.key())
        .bind(feedback.user_id.to_string())
        .bind(feedback.thumbs)
        .bind(to_json(&feedback.categories)?)
        .bind(&feedback.text)
        .bind(&now)
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(Feedback { updated_at: now, ..feedback.clone() })
    }

    pub(super) async fn feedback_of(
        &self,
        conversation_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<Feedback>, StoreError> {
        let rows: Vec<FeedbackRow> = sqlx::query_as(
            "select f.target_kind, f.target_id, f.user_id, f.thumbs, f.categories, f.text, f.updated_at from feedback f \
             where f.user_id = $2 and ((f.target_kind = 'message' and f.target_id in \
                 (select id from messages where conversation_id = $1)) \
             or (f.target_kind = 'suggestion' and f.target_id in \
                 (select id || ':' || cast(idx as text) from suggestions where conversation_id = $1)))",
        )
        .bind(conversation_id.to_string())
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter().map(FeedbackRow::into_feedback).collect()
    }

    pub(super) async fn feedback_list(
        &self,
        filter: &FeedbackFilter,
        limit: i64,
    ) -> Result<Vec<FeedbackItem>, StoreError> {
        let to = filter.to.as_ref().map(|day| format!("{day}T23:59:59.999999Z")).unwrap_or_default();
        let rows: Vec<ItemRow> = sqlx::query_as(
            "select f.target_kind, f.target_id, f.user_id, f.thumbs, f.categories, f.text, f.updated_at, u.email, \
             coalesce(m.conversation_id, s.conversation_id) as conversation_id, c.kind, \
             coalesce(m.author_model_version_id, s.model_version_id, k.model_version_id) as model_version_id, \
             v.name as model_name, coalesce(m.text, s.text, k.text) as target_text \
             from feedback f join users u on u.id = f.user_id \
             left join messages m on f.target_kind = 'message' and m.id = f.target_id \
             left join suggestions s on f.target_kind = 'suggestion' and s.id || ':' || cast(s.idx as text) = f.target_id \
             left join completions k on f.target_kind = 'completion' and k.id = f.target_id \
             left join conversations c on c.id = coalesce(m.conversation_id, s.conversation_id) \
             left join model_versions v on v.id = coalesce(m.author_model_version_id, s.model_version_id, k.model_version_id) \
             where ($1 = '' or f.user_id = $1) \
             and ($2 = '' or coalesce(m.author_model_version_id, s.model_version_id, k.model_version_id) = $2) \
             and ($3 = '' or f.updated_at >= $3) and ($4 = '' or f.updated_at <= $4) \
             order by f.updated_at desc, f.target_id limit $5",
        )
        .bind(filter.user_id.map(|u| u.to_string()).unwrap_or_default())
        .bind(filter.model_version_id.map(|v| v.to_string()).unwrap_or_default())
        .bind(filter.from.clone().unwrap_or_default())
        .bind(to)
        .bind(SCAN_LIMIT)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let mut items = vec![];
        for row in rows {
            let feedback = row.feedback.into_feedback()?;
            if filter.category.as_ref().is_some_and(|c| !feedback.categories.contains(c)) {
                continue;
            }
            let text = row.target_text.unwrap_or_else(|| "(no longer stored)".into());
            let excerpt = shorten(&text, 160);
            let conversation = match (row.conversation_id, row.kind) {
                (Some(id), Some(kind)) => {
                    Some((uuid(&id)?, kind.parse::<ConversationKind>().map_err(StoreError::Backend)?))
                }
                _ => None,
            };
            items.push(FeedbackItem {
                feedback,
                user_email: row.email,
                conversation,
                model_version_id: row.model_version_id.as_deref().map(uuid).transpose()?,
                model_name: row.model_name,
                excerpt,
            });
            if items.len() as i64 >= limit {
                break;
            }
        }
        Ok(items)
    }

    pub(super) async fn feedback_on_targets(
        &self,
        user: Uuid,
        targets: &[FeedbackTarget],
    ) -> Result<Vec<Feedback>, StoreError> {
        let mut found = vec![];
        for target in targets {
            let row: Option<FeedbackRow> = sqlx::query_as(
                "select target_kind, target_id, user_id, thumbs, categories, text, updated_at from feedback \
                 where target_kind = $1 and target_id = $2 and user_id = $3",
            )
            .bind(target.kind())
            .bind(target.key())
            .bind(user.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
            if let Some(row) = row {
                found.push(row.into_feedback()?);
            }
        }
        Ok(found)
    }

    pub(super) async fn comparison_of(&self, completion_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("select comparison_id from completions where id = $1")
            .bind(completion_id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(|(id,)| uuid(&id)).transpose()
    }

    pub(super) async fn read_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("select value from settings where key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        Ok(row.map(|(value,)| value))
    }

    pub(super) async fn write_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "insert into settings (key, value, updated_at) values ($1, $2, $3) \
             on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now_rfc3339())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }
}

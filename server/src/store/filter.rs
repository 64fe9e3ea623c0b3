//! The content filter's policy versions, decisions and the feedback people give on them.

use super::{SqlStore, backend, json, shorten, to_json, uuid};
use app::filter::{
    Action, CategoryStats, DecisionFilter, DecisionLine, DecisionList, FilterFeedback, FilterFeedbackKind,
    PolicyVersion, Verdict,
};
use app::ssr::StoreError;
use app::ssr::clock::{now_rfc3339, rfc3339_in};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

fn action_from(text: Option<&str>) -> Option<Action> {
    match text {
        Some("warn") => Some(Action::Warn),
        Some("block") => Some(Action::Block),
        _ => None,
    }
}

fn kind_text(kind: FilterFeedbackKind) -> &'static str {
    match kind {
        FilterFeedbackKind::FalsePositive => "false_positive",
        FilterFeedbackKind::FalseNegative => "false_negative",
    }
}

fn kind_from(text: &str) -> FilterFeedbackKind {
    if text == "false_positive" {
        FilterFeedbackKind::FalsePositive
    } else {
        FilterFeedbackKind::FalseNegative
    }
}

/// What a stored hit holds that the list shows.
#[derive(serde::Deserialize)]
pub(super) struct StoredHit {
    matched: String,
}

type FeedbackRow = (String, String, String, String, String, String);

fn feedback_from(row: FeedbackRow) -> Result<FilterFeedback, StoreError> {
    let (message_id, user_id, kind, category, note, created_at) = row;
    Ok(FilterFeedback {
        message_id: uuid(&message_id)?,
        user_id: uuid(&user_id)?,
        kind: kind_from(&kind),
        category,
        note,
        created_at,
    })
}

/// The decisions the admin page's filters let through: category ($1, a JSON-quoted `like`
/// pattern), action ($2), source ($3), policy version ($4, negative for any), since ($5).
macro_rules! decisions_where {
    ($head:literal, $tail:literal) => {
        concat!(
            $head,
            " from filter_decisions d join messages m on m.id = d.message_id \
             join conversations c on c.id = m.conversation_id \
             where ($1 = '' or d.categories like $1) \
             and ($2 = '' or ($2 = 'flagged' and d.action is not null) or ($2 = 'passed' and d.action is null) or d.action = $2) \
             and ($3 = '' or ($3 = 'model') = (m.author_model_version_id is not null)) \
             and ($4 < 0 or d.policy_version = $4) and ($5 = '' or d.created_at >= $5) ",
            $tail
        )
    };
}

type DecisionRow =
    (String, String, i64, i64, Option<String>, String, String, String, String, i64, i64, String);

impl SqlStore {
    pub(super) async fn newest_policy_version(&self) -> Result<i64, StoreError> {
        let (version,): (i64,) = sqlx::query_as("select coalesce(max(version), 0) from content_policies")
            .fetch_one(self.pool())
            .await
            .map_err(backend)?;
        Ok(version)
    }

    pub(super) async fn list_decisions(
        &self,
        filter: &DecisionFilter,
        limit: i64,
    ) -> Result<DecisionList, StoreError> {
        let category = match filter.category.trim() {
            "" => String::new(),
            name => {
                format!("%{}%", serde_json::to_string(name).map_err(|e| StoreError::Backend(e.to_string()))?)
            }
        };
        let since = filter.days.map(|days| rfc3339_in(-days.max(0) * 86_400)).unwrap_or_default();
        let version = filter.policy_version.unwrap_or(-1);
        let (total,): (i64,) = sqlx::query_as(decisions_where!("select count(*)", ""))
            .bind(&category)
            .bind(&filter.action)
            .bind(&filter.source)
            .bind(version)
            .bind(&since)
            .fetch_one(self.pool())
            .await
            .map_err(backend)?;
        let rows: Vec<DecisionRow> = sqlx::query_as(decisions_where!(
            "select d.message_id, m.conversation_id, \
             cast(case when m.author_model_version_id is null then 0 else 1 end as bigint), d.policy_version, \
             d.action, d.categories, d.hits, m.text, d.created_at, \
             (select count(*) from filter_feedback f where f.message_id = d.message_id and f.kind = 'false_positive'), \
             (select count(*) from filter_feedback f where f.message_id = d.message_id and f.kind = 'false_negative'), c.kind",
            "order by d.created_at desc, d.id limit $6"
        ))
        .bind(&category)
        .bind(&filter.action)
        .bind(&filter.source)
        .bind(version)
        .bind(&since)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let mut lines = vec![];
        for row in rows {
            let (
                message_id,
                conversation_id,
                from_model,
                policy_version,
                action,
                categories,
                hits,
                text,
                created_at,
                fp,
                fn_,
                kind,
            ) = row;
            let hits: Vec<StoredHit> = json(Some(&hits), &message_id)?.unwrap_or_default();
            lines.push(DecisionLine {
                message_id: uuid(&message_id)?,
                conversation_id: uuid(&conversation_id)?,
                conversation_kind: kind.parse().map_err(StoreError::Backend)?,
                from_model: from_model == 1,
                policy_version,
                action: action_from(action.as_deref()),
                categories: json(Some(&categories), &message_id)?.unwrap_or_default(),
                matched: hits.into_iter().map(|h| h.matched).collect(),
                text: shorten(&text, 160),
                created_at,
                false_positives: fp,
                false_negatives: fn_,
            });
        }
        Ok(DecisionList { total, lines })
    }

    pub(super) async fn newest_policy(&self) -> Result<Option<PolicyVersion>, StoreError> {
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "select version, text, created_at from content_policies order by version desc limit 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        Ok(row.map(|(version, text, created_at)| PolicyVersion { version, text, created_at }))
    }

    pub(super) async fn insert_policy(&self, text: &str, by: Uuid) -> Result<PolicyVersion, StoreError> {
        let now = now_rfc3339();
        let (version,): (i64,) = sqlx::query_as(
            "insert into content_policies (version, text, created_by, created_at) \
                 select coalesce(max(version), 0) + 1, $1, $2, $3 from content_policies returning version",
        )
        .bind(text)
        .bind(by.to_string())
        .bind(&now)
        .fetch_one(self.pool())
        .await
        .map_err(backend)?;
        Ok(PolicyVersion { version, text: text.to_string(), created_at: now })
    }

    pub(super) async fn insert_decision(
        &self,
        message_id: Uuid,
        verdict: &Verdict,
        hits: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        write_decision(&mut conn, message_id, verdict, hits).await
    }

    /// The latest decision on each message of a conversation.
    pub(super) async fn verdicts_in(
        conn: &mut sqlx::AnyConnection,
        conversation_id: Uuid,
    ) -> Result<HashMap<Uuid, Verdict>, StoreError> {
        let rows: Vec<(String, i64, Option<String>, String)> = sqlx::query_as(
            "select d.message_id, d.policy_version, d.action, d.categories from filter_decisions d \
             join messages m on m.id = d.message_id where m.conversation_id = $1 order by d.created_at, d.id",
        )
        .bind(conversation_id.to_string())
        .fetch_all(conn)
        .await
        .map_err(backend)?;
        let mut verdicts = HashMap::new();
        for (message_id, policy_version, action, categories) in rows {
            let verdict = Verdict {
                policy_version,
                action: action_from(action.as_deref()),
                categories: json(Some(&categories), &message_id)?.unwrap_or_default(),
            };
            verdicts.insert(uuid(&message_id)?, verdict);
        }
        Ok(verdicts)
    }

    pub(super) async fn upsert_filter_feedback(
        &self,
        feedback: &FilterFeedback,
    ) -> Result<FilterFeedback, StoreError> {
        let now = now_rfc3339();
        sqlx::query(
            "insert into filter_feedback (message_id, user_id, kind, category, note, created_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (message_id, user_id) do update set \
             kind = excluded.kind, category = excluded.category, note = excluded.note, created_at = excluded.created_at",
        )
        .bind(feedback.message_id.to_string())
        .bind(feedback.user_id.to_string())
        .bind(kind_text(feedback.kind))
        .bind(&feedback.category)
        .bind(&feedback.note)
        .bind(&now)
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(FilterFeedback { created_at: now, ..feedback.clone() })
    }

    pub(super) async fn filter_feedback_of(
        &self,
        conversation_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<FilterFeedback>, StoreError> {
        let rows: Vec<FeedbackRow> = sqlx::query_as(
            "select f.message_id, f.user_id, f.kind, f.category, f.note, f.created_at from filter_feedback f \
             join messages m on m.id = f.message_id where m.conversation_id = $1 and f.user_id = $2",
        )
        .bind(conversation_id.to_string())
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter().map(feedback_from).collect()
    }

    /// Per category: messages flagged (their latest decision), and the feedback on the filter.
    pub(super) async fn filter_stats(&self) -> Result<Vec<CategoryStats>, StoreError> {
        let decisions: Vec<(String, String)> = sqlx::query_as(
            "select d.message_id, d.categories from filter_decisions d where d.action is not null \
             and d.created_at = (select max(o.created_at) from filter_decisions o where o.message_id = d.message_id)",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let mut stats: BTreeMap<String, CategoryStats> = BTreeMap::new();
        let entry = |stats: &mut BTreeMap<String, CategoryStats>, category: &str| {
            stats.entry(category.to_string()).or_insert_with(|| CategoryStats {
                category: category.to_string(),
                flagged: 0,
                false_positives: 0,
                false_negatives: 0,
            });
        };
        for (message_id, categories) in decisions {
            for category in json::<Vec<String>>(Some(&categories), &message_id)?.unwrap_or_default() {
                entry(&mut stats, &category);
                if let Some(s) = stats.get_mut(&category) {
                    s.flagged += 1;
                }
            }
        }
        let feedback: Vec<(String, String, i64)> =
            sqlx::query_as("select kind, category, count(*) from filter_feedback group by kind, category")
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
        for (kind, category, count) in feedback {
            entry(&mut stats, &category);
            if let Some(s) = stats.get_mut(&category) {
                match kind_from(&kind) {
                    FilterFeedbackKind::FalsePositive => s.false_positives += count,
                    FilterFeedbackKind::FalseNegative => s.false_negatives += count,
                }
            }
        }
        Ok(stats.into_values().collect())
    }

    pub(super) async fn recent_filter_feedback(
        &self,
        limit: i64,
    ) -> Result<Vec<(FilterFeedback, String)>, StoreError> {
        let rows: Vec<(String, String, String, String, String, String, String)> = sqlx::query_as(
            "select f.message_id, f.user_id, f.kind, f.category, f.note, f.created_at, m.text from filter_feedback f \
             join messages m on m.id = f.message_id order by f.created_at desc limit $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(a, b, c, d, e, f, text)| Ok((feedback_from((a, b, c, d, e, f))?, shorten(&text, 120))))
            .collect()
    }
}

/// Stores a filter decision on a message, on the given connection (a turn's transaction).
pub(super) async fn write_decision(
    conn: &mut sqlx::AnyConnection,
    message_id: Uuid,
    verdict: &Verdict,
    hits: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into filter_decisions (id, message_id, policy_version, action, categories, hits, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(message_id.to_string())
    .bind(verdict.policy_version)
    .bind(verdict.action.map(|a| a.as_str()))
    .bind(to_json(&verdict.categories)?)
    .bind(hits)
    .bind(now_rfc3339())
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

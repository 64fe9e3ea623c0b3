//! Rows for the quality figures: the latest ranking of each trainer per comparison, which
//! model wrote each ranked completion, work per person and day, and demonstration outcomes.

use super::{SqlStore, backend, uuid};
use app::ssr::StoreError;
use app::stats::{Activity, CompletionModel, RankedPage, RankingRow};
use uuid::Uuid;

impl SqlStore {
    /// The next `limit` ranked comparisons after `after`, with their latest rankings and the
    /// models of their completions: three statements, each over the page's range of ids
    /// through the unique indexes that start with the comparison.
    pub(super) async fn ranked_page(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<RankedPage, StoreError> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let ids: Vec<(String,)> = sqlx::query_as(
            "select distinct comparison_id from rankings where comparison_id > $1 \
             order by comparison_id limit $2",
        )
        .bind(&after)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let Some((last,)) = ids.last() else { return Ok(RankedPage::default()) };
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "select r.comparison_id, c.batch_id, r.ranked_by, r.ranking, r.created_at from rankings r \
             join comparisons c on c.id = r.comparison_id \
             where r.comparison_id > $1 and r.comparison_id <= $2 and r.ranking is not null and r.set_aside_at is null \
             and r.revision = (select max(l.revision) from rankings l \
             where l.comparison_id = r.comparison_id and l.ranked_by = r.ranked_by) \
             order by r.comparison_id, r.created_at",
        )
        .bind(&after)
        .bind(last)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let models: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "select p.comparison_id, p.id, p.model_version_id from completions p \
             where p.comparison_id > $1 and p.comparison_id <= $2 \
             and exists (select 1 from rankings r where r.comparison_id = p.comparison_id) \
             order by p.comparison_id, p.position",
        )
        .bind(&after)
        .bind(last)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let rankings = rows
            .into_iter()
            .map(|(comparison, batch, by, ranking, at)| {
                Ok(RankingRow {
                    comparison_id: uuid(&comparison)?,
                    batch_id: uuid(&batch)?,
                    ranked_by: uuid(&by)?,
                    groups: serde_json::from_str::<app::ranking::Ranking>(&ranking)
                        .map_err(|_| super::corrupt("ranking of", &comparison))?
                        .groups,
                    created_at: at,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let completions = models
            .into_iter()
            .map(|(comparison, id, model)| {
                Ok(CompletionModel {
                    comparison_id: uuid(&comparison)?,
                    completion_id: uuid(&id)?,
                    model_version_id: model.as_deref().map(uuid).transpose()?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(RankedPage { rankings, completions, last: Some(uuid(last)?) })
    }

    /// Work per person, day (UTC) and kind since `since` ("" for all): demonstrations
    /// submitted (each submit of a trainer's own), chat turns written, rankings (each
    /// revision; not those imported, which no person made here), feedback given, verdicts given.
    pub(super) async fn activity_since(&self, since: &str) -> Result<Vec<Activity>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "select substr(r.submitted_at, 1, 10) as day, 'demonstration' as kind, r.submitted_by as who, count(*) \
             from conversation_revisions r join conversations c on c.id = r.conversation_id \
             where c.kind = 'demonstration' and c.owner_id = r.submitted_by and r.submitted_at >= $1 \
             group by day, who \
             union all \
             select substr(m.created_at, 1, 10) as day, 'chat' as kind, m.author_user_id as who, count(*) \
             from messages m join conversations c on c.id = m.conversation_id \
             where c.kind = 'chat' and m.author_user_id is not null and m.created_at >= $1 \
             group by day, who \
             union all \
             select substr(created_at, 1, 10) as day, 'ranking' as kind, ranked_by as who, count(*) \
             from rankings where revision = 1 and created_at >= $1 \
             and ranked_by not in (select id from users where source is not null) group by day, who \
             union all \
             select substr(created_at, 1, 10) as day, 'feedback' as kind, user_id as who, count(*) \
             from feedback where created_at >= $1 group by day, who \
             union all \
             select substr(created_at, 1, 10) as day, 'review' as kind, reviewer_id as who, count(*) \
             from reviews where created_at >= $1 group by day, who",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(day, kind, who, count)| Ok(Activity { day, kind, user_id: uuid(&who)?, count }))
            .collect()
    }

    /// Per trainer, their demonstrations made in Parley and submitted at least once, by status.
    pub(super) async fn demonstration_outcomes(&self) -> Result<Vec<(Uuid, String, i64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "select owner_id, status, count(*) from conversations \
             where kind = 'demonstration' and revision > 0 and import_id is null group by owner_id, status",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter().map(|(who, status, n)| Ok((uuid(&who)?, status, n))).collect()
    }

    /// Demonstrations of each author that a reviewer edited before accepting.
    pub(super) async fn edited_by_reviewers(&self) -> Result<Vec<(Uuid, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "select c.owner_id, count(*) from reviews r join conversations c on c.id = r.conversation_id \
             where r.edited_revision is not null group by c.owner_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter().map(|(who, n)| Ok((uuid(&who)?, n))).collect()
    }

    /// The categories ticked and the thumbs of each feedback given since `since`.
    pub(super) async fn feedback_marks(
        &self,
        since: &str,
    ) -> Result<Vec<(Vec<String>, Option<i64>)>, StoreError> {
        let rows: Vec<(String, Option<i64>)> =
            sqlx::query_as("select categories, thumbs from feedback where updated_at >= $1")
                .bind(since)
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
        Ok(rows.into_iter().map(|(c, t)| (serde_json::from_str(&c).unwrap_or_default(), t)).collect())
    }

    /// Rankings still owed: open slots of comparisons ready to rank.
    pub(super) async fn open_rank_slots(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "select count(*) from comparison_slots s join comparisons c on c.id = s.comparison_id \
             where s.done_by is null and c.status = 'ready'",
        )
        .fetch_one(self.pool())
        .await
        .map_err(backend)?;
        Ok(n)
    }
}

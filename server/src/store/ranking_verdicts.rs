//! Verdicts on doubtful rankings: one a ranking, the first reviewer's; a set-aside ranking
//! is marked so that exports, agreement and training leave it out.

use super::{SqlStore, backend, uuid};
use app::review::{JudgedRanking, RankingVerdict};
use app::ssr::StoreError;
use uuid::Uuid;

struct VerdictRow {
    id: String,
    ranking_id: String,
    reviewer_id: String,
    verdict: String,
    note: String,
    created_at: String,
}
crate::store::from_columns!(VerdictRow { id, ranking_id, reviewer_id, verdict, note, created_at });

impl VerdictRow {
    fn into_verdict(self) -> Result<JudgedRanking, StoreError> {
        Ok(JudgedRanking {
            id: uuid(&self.id)?,
            ranking_id: uuid(&self.ranking_id)?,
            reviewer_id: uuid(&self.reviewer_id)?,
            verdict: self.verdict.parse().map_err(StoreError::Backend)?,
            note: self.note,
            created_at: self.created_at,
        })
    }
}

impl SqlStore {
    pub(super) async fn judged_rankings(&self) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("select ranking_id from ranking_verdicts")
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.iter().map(|(id,)| uuid(id)).collect()
    }

    pub(super) async fn judge_ranking(
        &self,
        verdict: JudgedRanking,
        run_id: Uuid,
    ) -> Result<JudgedRanking, StoreError> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "insert into ranking_verdicts (id, ranking_id, reviewer_id, verdict, note, run_id, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing",
        )
        .bind(verdict.id.to_string())
        .bind(verdict.ranking_id.to_string())
        .bind(verdict.reviewer_id.to_string())
        .bind(verdict.verdict.as_str())
        .bind(&verdict.note)
        .bind(run_id.to_string())
        .bind(&verdict.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 1 && verdict.verdict == RankingVerdict::SetAside {
            sqlx::query("update rankings set set_aside_at = $2 where id = $1")
                .bind(verdict.ranking_id.to_string())
                .bind(&verdict.created_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let stored: VerdictRow = sqlx::query_as(
            "select id, ranking_id, reviewer_id, verdict, note, created_at from ranking_verdicts where ranking_id = $1",
        )
        .bind(verdict.ranking_id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        stored.into_verdict()
    }

    pub(super) async fn current_rankings(
        &self,
        comparison_id: Uuid,
    ) -> Result<Vec<(Uuid, Uuid, Vec<Vec<Uuid>>)>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "select r.id, r.ranked_by, r.ranking from rankings r where r.comparison_id = $1 \
             and r.ranking is not null and r.set_aside_at is null \
             and r.revision = (select max(l.revision) from rankings l \
             where l.comparison_id = r.comparison_id and l.ranked_by = r.ranked_by) \
             order by r.created_at, r.id",
        )
        .bind(comparison_id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, by, ranking)| {
                let groups = serde_json::from_str::<app::ranking::Ranking>(&ranking)
                    .map_err(|_| super::corrupt("ranking", &id))?
                    .groups;
                Ok((uuid(&id)?, uuid(&by)?, groups))
            })
            .collect()
    }
}

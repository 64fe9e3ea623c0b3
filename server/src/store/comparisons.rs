//! Comparison tasks and their slots. Leasing is one statement: on PostgreSQL it locks the
//! chosen comparison row with `FOR UPDATE SKIP LOCKED`, so concurrent requests (from any
//! number of server instances) pass over a comparison another is leasing from; SQLite runs
//! one writer at a time, so the same statement is atomic there as it stands.

use super::{Engine, SqlStore, backend, changed};
use app::ssr::clock::now_rfc3339;
use app::ssr::{Lease, NewComparisonBatch, StoreError};
use uuid::Uuid;

/// The comparison to lease from: open, not ranked nor held by the caller, oldest first.
/// `$1` user, `$2` 1 when the caller's own conversations may be drawn, `$3` now.
macro_rules! candidate {
    ($lock:literal) => {
        concat!(
            "with candidate as (select c.id from comparisons c \
             where ($2 = 1 or c.source_owner_id <> $1) \
             and exists (select 1 from comparison_slots s where s.comparison_id = c.id and s.done_by is null \
                 and (s.holder_id is null or s.lease_expires_at < $3)) \
             and not exists (select 1 from comparison_slots s where s.comparison_id = c.id \
                 and (s.done_by = $1 or (s.holder_id = $1 and s.lease_expires_at >= $3))) \
             order by c.created_at, c.id limit 1 ",
            $lock,
            ") update comparison_slots set holder_id = $1, lease_expires_at = $4 \
             where comparison_id = (select id from candidate) \
             and slot = (select min(s.slot) from comparison_slots s where s.comparison_id = (select id from candidate) \
                 and s.done_by is null and (s.holder_id is null or s.lease_expires_at < $3)) \
             returning comparison_id, slot"
        )
    };
}

impl SqlStore {
    pub(super) async fn insert_comparison_batch(&self, batch: NewComparisonBatch) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let mut tx = self.pool().begin().await.map_err(backend)?;
        sqlx::query(
            "insert into comparison_batches (id, created_by, seed, k, overlap, created_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(batch.id.to_string())
        .bind(batch.created_by.to_string())
        .bind(batch.seed.to_string())
        .bind(batch.k)
        .bind(batch.overlap)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for comparison in &batch.comparisons {
            sqlx::query(
                "insert into comparisons (id, batch_id, conversation_id, message_id, source_owner_id, created_at) \
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(comparison.id.to_string())
            .bind(batch.id.to_string())
            .bind(comparison.conversation_id.to_string())
            .bind(comparison.message_id.to_string())
            .bind(comparison.source_owner_id.to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            for slot in 0..batch.overlap {
                sqlx::query("insert into comparison_slots (comparison_id, slot) values ($1, $2)")
                    .bind(comparison.id.to_string())
                    .bind(slot)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)
    }

    pub(super) async fn lease_slot(
        &self,
        user: Uuid,
        now: &str,
        expires_at: &str,
        allow_own: bool,
    ) -> Result<Option<Lease>, StoreError> {
        let sql = match self.engine() {
            Engine::Postgres => candidate!("for update of c skip locked"),
            Engine::Sqlite => candidate!(""),
        };
        let row: Option<(String, i64)> = sqlx::query_as(sql)
            .bind(user.to_string())
            .bind(i64::from(allow_own))
            .bind(now)
            .bind(expires_at)
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(|(comparison_id, slot)| {
            Ok(Lease {
                comparison_id: Uuid::parse_str(&comparison_id).map_err(|_| {
                    StoreError::Backend(format!("stored id {comparison_id} does not read back"))
                })?,
                slot,
                expires_at: expires_at.to_string(),
            })
        })
        .transpose()
    }

    pub(super) async fn finish_slot(
        &self,
        comparison_id: Uuid,
        slot: i64,
        user: Uuid,
        now: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "update comparison_slots set done_by = $1, holder_id = null, lease_expires_at = null \
             where comparison_id = $2 and slot = $3 and holder_id = $1 and lease_expires_at >= $4 \
             and done_by is null",
        )
        .bind(user.to_string())
        .bind(comparison_id.to_string())
        .bind(slot)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(backend)?;
        changed(done, "lease")
    }
}

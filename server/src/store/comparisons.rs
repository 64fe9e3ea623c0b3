//! Comparison batches, their completions, slots, leases and rankings. Claiming work is one
//! statement: on PostgreSQL it locks the chosen row with `FOR UPDATE SKIP LOCKED`, so
//! concurrent requests (from any number of server instances) never take the same slot or
//! pending comparison; SQLite runs one writer at a time, so the same statement is atomic
//! there as it stands.

use super::{Engine, SqlStore, backend, changed, corrupt, json, shorten, to_json, uuid};
use app::comparison::{BatchProgress, Completion, RankProgress, RankedItem, SubmittedRanking};
use app::ssr::clock::now_rfc3339;
use app::ssr::{
    Lease, NewComparison, NewComparisonBatch, NewRanking, PendingComparison, StoreError, StoredComparison,
};
use uuid::Uuid;

/// Whether the caller (`$1`, at `$2`) may be given comparison `c`: its batch lets them rank
/// their own conversations or it is not from one, and they have neither ranked it, skipped
/// it nor hold a live lease on it. Each test is one index probe.
macro_rules! may_rank {
    () => {
        "(b.allow_own = 1 or c.source_owner_id <> $1) \
         and not exists (select 1 from comparison_slots o where o.done_by = $1 and o.comparison_id = c.id) \
         and not exists (select 1 from comparison_slots o where o.holder_id = $1 and o.lease_expires_at >= $2 \
             and o.comparison_id = c.id) \
         and not exists (select 1 from comparison_skips k where k.comparison_id = c.id and k.user_id = $1)"
    };
}

/// The slot of the oldest lease that ran out (or was skipped) on a comparison the caller may
/// rank, walked through the index of held slots. `$1` user, `$2` now.
macro_rules! take_over {
    ($lock:literal) => {
        concat!(
            "select s.comparison_id, s.slot, c.queue_key from comparison_slots s \
             join comparisons c on c.id = s.comparison_id join comparison_batches b on b.id = c.batch_id \
             where s.holder_id is not null and s.done_by is null and s.lease_expires_at < $2 and ",
            may_rank!(),
            " order by s.lease_expires_at limit 1 ",
            $lock
        )
    };
}

/// The first comparison at or after queue place `$3` with a free slot that the caller may
/// rank, walked through the index of comparisons with free slots. `$1` user, `$2` now.
macro_rules! next_free {
    ($lock:literal) => {
        concat!(
            "select c.id, c.queue_key from comparisons c join comparison_batches b on b.id = c.batch_id \
             where c.queue_key >= $3 and c.free_slots > 0 and ",
            may_rank!(),
            " order by c.queue_key limit 1 ",
            $lock
        )
    };
}

/// What is left for a trainer (`$1`, at `$2`), each counted up to `$3`: the comparisons
/// they hold, those with a free slot from their cursor on, and those whose only open slots
/// are leases that ran out. The first reads `$3` only so that all three take the same binds.
const QUEUE_LEFT: [&str; 3] = [
    "select count(*) from comparison_slots where holder_id = $1 and lease_expires_at >= $2 \
     and done_by is null and $3 > 0",
    concat!(
        "select count(*) from (select 1 from comparisons c join comparison_batches b on b.id = c.batch_id \
         where c.queue_key >= (select coalesce(max(queue_key), 0) from rank_cursors where user_id = $1) \
         and c.free_slots > 0 and ",
        may_rank!(),
        " limit $3) t"
    ),
    concat!(
        "select count(*) from (select distinct s.comparison_id from comparison_slots s \
         join comparisons c on c.id = s.comparison_id join comparison_batches b on b.id = c.batch_id \
         where s.holder_id is not null and s.done_by is null and s.lease_expires_at < $2 \
         and c.free_slots = 0 and ",
        may_rank!(),
        " limit $3) t"
    ),
];

/// A skipped slot keeps its holder with this lease end, long over: the index of held slots
/// then offers it to others like a lease that ran out, and the skip keeps it from the skipper.
const LEASE_OVER: &str = "1970-01-01T00:00:00Z";

/// Claims the oldest pending comparison that no server holds. `$1` now, `$2` the claim's end.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "update comparisons set claimed_until = $2 \
             where id = (select id from comparisons where status = 'pending' \
                 and (claimed_until is null or claimed_until < $1) \
                 order by created_at, position limit 1 ",
            $lock,
            ") returning id, position, conversation_id, message_id, batch_id"
        )
    };
}

struct BatchRow {
    id: String,
    created_at: String,
    seed: String,
    k: i64,
    overlap: i64,
    include_original: i64,
    allow_own: i64,
    draw: String,
    imported: Option<String>,
    reward_run_id: Option<String>,
    keep: Option<i64>,
    comparisons: i64,
    pending: i64,
    scored: i64,
    ready: i64,
    passed: i64,
    failed: i64,
    error: Option<String>,
    rankings_done: i64,
    rankings_wanted: i64,
}
crate::store::from_columns!(BatchRow {
    id,
    created_at,
    seed,
    k,
    overlap,
    include_original,
    allow_own,
    draw,
    imported,
    reward_run_id,
    keep,
    comparisons,
    pending,
    scored,
    ready,
    passed,
    failed,
    error,
    rankings_done,
    rankings_wanted
});

struct CompletionRow {
    id: String,
    text: String,
    message_id: Option<String>,
    model_version_id: Option<String>,
    sampling: Option<String>,
    finish_reason: String,
}
crate::store::from_columns!(CompletionRow {
    id,
    text,
    message_id,
    model_version_id,
    sampling,
    finish_reason
});

struct RankingRow {
    id: String,
    comparison_id: String,
    ranked_by: String,
    revision: i64,
    ranking: Option<String>,
    cannot_rank: Option<String>,
    shown_order: String,
    labels: String,
    rationale: String,
    created_at: String,
}
crate::store::from_columns!(RankingRow {
    id,
    comparison_id,
    ranked_by,
    revision,
    ranking,
    cannot_rank,
    shown_order,
    labels,
    rationale,
    created_at
});

/// The columns a `RankingRow` reads, in a literal so that statements stay literal.
macro_rules! ranking_columns {
    () => {
        "id, comparison_id, ranked_by, revision, ranking, cannot_rank, shown_order, labels, rationale, created_at"
    };
}

impl RankingRow {
    fn into_ranking(self) -> Result<SubmittedRanking, StoreError> {
        let id = self.id;
        Ok(SubmittedRanking {
            id: uuid(&id)?,
            comparison_id: uuid(&self.comparison_id)?,
            ranked_by: uuid(&self.ranked_by)?,
            revision: self.revision,
            ranking: json(self.ranking.as_deref(), &id)?,
            cannot_rank: self.cannot_rank,
            shown_order: json(Some(&self.shown_order), &id)?.unwrap_or_default(),
            labels: json(Some(&self.labels), &id)?.unwrap_or_default(),
            rationale: self.rationale,
            created_at: self.created_at,
        })
    }
}

/// A trainer's ranked comparison: id, revision, when, reason not ranked, the turn before.
type RankedRow = (String, i64, String, Option<String>, Option<String>);

fn lease_from(row: (String, i64, String)) -> Result<Lease, StoreError> {
    Ok(Lease { comparison_id: uuid(&row.0)?, slot: row.1, expires_at: row.2 })
}

impl SqlStore {
    pub(super) async fn upsert_rank_draft(
        &self,
        comparison_id: Uuid,
        user: Uuid,
        draft: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into rank_drafts (comparison_id, user_id, draft, updated_at) values ($1, $2, $3, $4) \
             on conflict (comparison_id, user_id) do update set draft = excluded.draft, updated_at = excluded.updated_at",
        )
        .bind(comparison_id.to_string())
        .bind(user.to_string())
        .bind(draft)
        .bind(now_rfc3339())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn load_rank_draft(
        &self,
        comparison_id: Uuid,
        user: Uuid,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("select draft from rank_drafts where comparison_id = $1 and user_id = $2")
                .bind(comparison_id.to_string())
                .bind(user.to_string())
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        Ok(row.map(|(d,)| d))
    }

    pub(super) async fn remove_rank_draft(&self, comparison_id: Uuid, user: Uuid) -> Result<(), StoreError> {
        sqlx::query("delete from rank_drafts where comparison_id = $1 and user_id = $2")
            .bind(comparison_id.to_string())
            .bind(user.to_string())
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}

impl SqlStore {
    /// The two statements that find a lease on SQLite (a lease that ran out, the next free
    /// slot), with their parameters (`$1` user, `$2` now, `$3` queue place), for tests that
    /// read their query plans.
    pub fn lease_statements() -> [&'static str; 2] {
        [take_over!(""), next_free!("")]
    }

    /// The statements that count what is left for a trainer (`$3` the cap), for the same tests.
    pub fn queue_left_statements() -> [&'static str; 3] {
        QUEUE_LEFT
    }

    pub(super) async fn insert_comparison_batch(&self, batch: NewComparisonBatch) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let mut tx = self.write_tx().await?;
        // A retried or double-clicked create (the same id) finds the batch made: nothing more.
        let made = sqlx::query(
            "insert into comparison_batches \
             (id, created_by, seed, k, overlap, include_original, allow_own, sampling, created_at, draw, \
             reward_run_id, keep) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             on conflict (id) do nothing",
        )
        .bind(batch.id.to_string())
        .bind(batch.created_by.to_string())
        .bind(batch.seed.to_string())
        .bind(batch.k)
        .bind(batch.overlap)
        .bind(i64::from(batch.include_original))
        .bind(i64::from(batch.allow_own))
        .bind(to_json(&batch.sampling)?)
        .bind(&now)
        .bind(if batch.from_prompts { "prompts" } else { "chat" })
        .bind(batch.uncertainty.map(|u| u.reward_run_id.to_string()))
        .bind(batch.uncertainty.map(|u| u.keep))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if made.rows_affected() == 0 {
            return Ok(());
        }
        for comparison in &batch.comparisons {
            if let Some(prompt) = comparison.prompt_id {
                self.prompt_chat(&mut tx, comparison, prompt, batch.created_by, &now).await?;
            }
            sqlx::query(
                "insert into comparisons (id, batch_id, position, conversation_id, message_id, \
                 source_owner_id, status, created_at, free_slots) values ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
            )
            .bind(comparison.id.to_string())
            .bind(batch.id.to_string())
            .bind(comparison.position)
            .bind(comparison.conversation_id.to_string())
            .bind(comparison.message_id.to_string())
            .bind(comparison.source_owner_id.to_string())
            .bind(&now)
            .bind(batch.overlap)
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
        tx.commit().await.map_err(backend)?;
        self.analyze_queue().await
    }

    /// PostgreSQL plans the lease from statistics; where autovacuum is off (as on some managed
    /// set-ups) nobody gathers them, so a batch that adds many rows gathers them itself.
    pub(super) async fn analyze_queue(&self) -> Result<(), StoreError> {
        if self.engine() == Engine::Postgres {
            sqlx::query("analyze comparisons, comparison_slots, completions")
                .execute(self.pool())
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    /// The chat that holds a drawn prompt: the prompt's text as its one user turn, marked
    /// with the prompt's source and import.
    async fn prompt_chat(
        &self,
        tx: &mut super::WriteTx,
        comparison: &NewComparison,
        prompt: Uuid,
        owner: Uuid,
        now: &str,
    ) -> Result<(), StoreError> {
        let (text, source, import_id): (String, String, Option<String>) =
            sqlx::query_as("select text, source, import_id from prompts where id = $1")
                .bind(prompt.to_string())
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound("prompt"))?;
        sqlx::query(
            "insert into conversations (id, kind, owner_id, system_prompt, status, sampling, revision, \
             created_at, updated_at, source, import_id, prompt_id) \
             values ($1, 'chat', $2, null, 'draft', null, 0, $3, $3, $4, $5, $6)",
        )
        .bind(comparison.conversation_id.to_string())
        .bind(owner.to_string())
        .bind(now)
        .bind(&source)
        .bind(import_id)
        .bind(prompt.to_string())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "insert into messages (id, conversation_id, parent_id, position, role, text, author_user_id, \
             created_at, updated_at) values ($1, $2, null, 0, 'user', $3, $4, $5, $5)",
        )
        .bind(comparison.message_id.to_string())
        .bind(comparison.conversation_id.to_string())
        .bind(&text)
        .bind(owner.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn prompts_for_comparison(&self) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "select p.id from prompts p where not exists \
             (select 1 from conversations c join comparisons x on x.conversation_id = c.id where c.prompt_id = p.id) \
             order by p.created_at, p.id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(|(id,)| uuid(id)).collect()
    }

    pub(super) async fn candidates_for_comparison(&self) -> Result<Vec<(Uuid, Uuid, Uuid)>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "select c.id, m.id, c.owner_id from messages m join conversations c on c.id = m.conversation_id \
             where c.kind = 'chat' and m.role = 'assistant' and m.author_model_version_id is not null \
             and not exists (select 1 from comparisons x where x.message_id = m.id) \
             order by m.created_at, m.id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(|(c, m, o)| Ok((uuid(c)?, uuid(m)?, uuid(o)?))).collect()
    }

    pub(super) async fn batch_progress(&self) -> Result<Vec<BatchProgress>, StoreError> {
        let rows: Vec<BatchRow> = sqlx::query_as(
            "select b.id, b.created_at, b.seed, b.k, b.overlap, b.include_original, b.allow_own, b.draw, \
             (select i.source from imports i where i.id = b.import_id) as imported, \
             (select count(*) from comparisons c where c.batch_id = b.id) as comparisons, \
             (select count(*) from comparisons c where c.batch_id = b.id and c.status = 'pending') as pending, \
             b.reward_run_id, b.keep, \
             (select count(*) from comparisons c where c.batch_id = b.id and c.status = 'scored') as scored, \
             (select count(*) from comparisons c where c.batch_id = b.id and c.status = 'ready') as ready, \
             (select count(*) from comparisons c where c.batch_id = b.id and c.status = 'passed') as passed, \
             (select count(*) from comparisons c where c.batch_id = b.id and c.status = 'failed') as failed, \
             (select min(c.error) from comparisons c where c.batch_id = b.id and c.status = 'failed') as error, \
             (select count(*) from comparison_slots s join comparisons c on c.id = s.comparison_id \
                 where c.batch_id = b.id and s.done_by is not null) as rankings_done, \
             (select count(*) from comparison_slots s join comparisons c on c.id = s.comparison_id \
                 where c.batch_id = b.id and c.status <> 'failed') as rankings_wanted \
             from comparison_batches b order by b.created_at desc, b.id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|row| {
                Ok(BatchProgress {
                    id: uuid(&row.id)?,
                    created_at: row.created_at,
                    seed: row.seed,
                    k: row.k,
                    overlap: row.overlap,
                    include_original: row.include_original != 0,
                    allow_own: row.allow_own != 0,
                    from_prompts: row.draw == "prompts",
                    imported: row.imported,
                    uncertainty: match (row.reward_run_id, row.keep) {
                        (Some(run), Some(keep)) => {
                            Some(app::comparison::UncertaintyDraw { reward_run_id: uuid(&run)?, keep })
                        }
                        _ => None,
                    },
                    comparisons: row.comparisons,
                    pending: row.pending,
                    scored: row.scored,
                    passed: row.passed,
                    ready: row.ready,
                    failed: row.failed,
                    error: row.error,
                    rankings_done: row.rankings_done,
                    rankings_wanted: row.rankings_wanted,
                })
            })
            .collect()
    }

    pub(super) async fn claim_pending(
        &self,
        now: &str,
        until: &str,
    ) -> Result<Option<PendingComparison>, StoreError> {
        let sql = match self.engine() {
            Engine::Postgres => claim!("for update skip locked"),
            Engine::Sqlite => claim!(""),
        };
        let claimed: Option<(String, i64, String, String, String)> =
            sqlx::query_as(sql).bind(now).bind(until).fetch_optional(self.pool()).await.map_err(backend)?;
        let Some((id, position, conversation_id, message_id, batch_id)) = claimed else { return Ok(None) };
        let (seed, k, include_original, sampling, reward_run_id): (String, i64, i64, String, Option<String>) =
            sqlx::query_as(
                "select seed, k, include_original, sampling, reward_run_id from comparison_batches where id = $1",
            )
        .bind(&batch_id)
        .fetch_one(self.pool())
        .await
        .map_err(backend)?;
        Ok(Some(PendingComparison {
            id: uuid(&id)?,
            position,
            conversation_id: uuid(&conversation_id)?,
            message_id: uuid(&message_id)?,
            batch_seed: seed.parse().map_err(|_| corrupt("seed of batch", &batch_id))?,
            k,
            include_original: include_original != 0,
            sampling: json(Some(&sampling), &batch_id)?.ok_or_else(|| corrupt("sampling of", &batch_id))?,
            reward_run_id: reward_run_id.as_deref().map(uuid).transpose()?,
        }))
    }

    pub(super) async fn insert_completions(
        &self,
        comparison_id: Uuid,
        context: &[app::model::ChatMessage],
        completions: Vec<Completion>,
        uncertainty: Option<f64>,
    ) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let mut tx = self.write_tx().await?;
        // Only a pool's last comparison settles its batch: the lock is for that.
        let batch = match uncertainty {
            Some(_) => Some(self.lock_batch_of(&mut tx, comparison_id).await?),
            None => None,
        };
        // Ready (or scored) first: a second server whose claim ran out finds nothing pending
        // and stops. A ready one joins the rank queue at its end.
        let done = match uncertainty {
            None => sqlx::query(
                "update comparisons set status = 'ready', claimed_until = null, error = null, context = $2, \
                 queue_key = (select coalesce(max(queue_key), 0) + 1 from comparisons) \
                 where id = $1 and status = 'pending'",
            )
            .bind(comparison_id.to_string())
            .bind(to_json(&context)?),
            Some(uncertainty) => sqlx::query(
                "update comparisons set status = 'scored', claimed_until = null, error = null, context = $2, \
                 uncertainty = $3 where id = $1 and status = 'pending'",
            )
            .bind(comparison_id.to_string())
            .bind(to_json(&context)?)
            .bind(uncertainty),
        }
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        changed(done, "pending comparison")?;
        for (position, completion) in completions.iter().enumerate() {
            let sampling = completion.sampling.as_ref().map(to_json).transpose()?;
            sqlx::query(
                "insert into completions (id, comparison_id, position, text, message_id, model_version_id, \
                 sampling, finish_reason, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(completion.id.to_string())
            .bind(comparison_id.to_string())
            .bind(position as i64)
            .bind(&completion.text)
            .bind(completion.message_id.map(|id| id.to_string()))
            .bind(completion.model_version_id.map(|id| id.to_string()))
            .bind(sampling)
            .bind(&completion.finish_reason)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        if let Some(batch) = batch {
            self.settle_pool(&mut tx, &batch).await?;
        }
        tx.commit().await.map_err(backend)
    }

    pub(super) async fn mark_failed(&self, comparison_id: Uuid, error: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let batch = self.lock_batch_of(&mut tx, comparison_id).await?;
        let done = sqlx::query(
            "update comparisons set status = 'failed', claimed_until = null, error = $2 \
             where id = $1 and status = 'pending'",
        )
        .bind(comparison_id.to_string())
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        changed(done, "pending comparison")?;
        self.settle_pool(&mut tx, &batch).await?;
        tx.commit().await.map_err(backend)
    }

    /// The batch of a comparison, locked on PostgreSQL until the transaction ends, so that
    /// the last two of a pool sampled at once (on two servers) settle it once: the second
    /// waits, then sees the first's work. (SQLite's writer is one at a time already.)
    async fn lock_batch_of(
        &self,
        tx: &mut super::WriteTx,
        comparison_id: Uuid,
    ) -> Result<String, StoreError> {
        let sql = match self.engine() {
            Engine::Postgres => {
                "select b.id from comparison_batches b where b.id = \
                 (select c.batch_id from comparisons c where c.id = $1) for update"
            }
            Engine::Sqlite => {
                "select b.id from comparison_batches b where b.id = \
                 (select c.batch_id from comparisons c where c.id = $1)"
            }
        };
        let batch: Option<(String,)> = sqlx::query_as(sql)
            .bind(comparison_id.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
        batch.map(|(id,)| id).ok_or_else(|| StoreError::NotFound("pending comparison"))
    }

    /// Once nothing of an uncertainty draw's pool is pending, its `keep` scored comparisons
    /// the reward model is least sure of (ties by place in the draw) join the rank queue,
    /// one after another, and the others are passed over: their slots go, their completions
    /// stay. Nothing for a random batch or a pool still being sampled.
    async fn settle_pool(&self, tx: &mut super::WriteTx, batch: &str) -> Result<(), StoreError> {
        let (keep, pending): (Option<i64>, i64) = sqlx::query_as(
            "select b.keep, (select count(*) from comparisons c where c.batch_id = b.id and c.status = 'pending') \
             from comparison_batches b where b.id = $1",
        )
        .bind(batch)
        .fetch_one(&mut **tx)
        .await
        .map_err(backend)?;
        let Some(keep) = keep else { return Ok(()) };
        if pending > 0 {
            return Ok(());
        }
        let kept: Vec<(String,)> = sqlx::query_as(
            "select id from comparisons where batch_id = $1 and status = 'scored' \
             order by uncertainty desc, position limit $2",
        )
        .bind(batch)
        .bind(keep)
        .fetch_all(&mut **tx)
        .await
        .map_err(backend)?;
        // One at a time: each takes the next place in the queue.
        for (id,) in &kept {
            sqlx::query(
                "update comparisons set status = 'ready', \
                 queue_key = (select coalesce(max(queue_key), 0) + 1 from comparisons) where id = $1",
            )
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        for sql in [
            "delete from comparison_slots where comparison_id in \
             (select id from comparisons where batch_id = $1 and status = 'scored')",
            "update comparisons set status = 'passed', free_slots = 0 where batch_id = $1 and status = 'scored'",
        ] {
            sqlx::query(sql).bind(batch).execute(&mut **tx).await.map_err(backend)?;
        }
        Ok(())
    }

    /// A comparison with its completions. Once ready, a comparison never changes (its
    /// completions and context are what was sampled), so ready ones are kept in memory and
    /// every server instance may serve them from there.
    pub(super) async fn find_comparison(&self, id: Uuid) -> Result<Option<StoredComparison>, StoreError> {
        if let Some(ready) = self.ready.get(id) {
            return Ok(Some(ready.as_ref().clone()));
        }
        let row: Option<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "select batch_id, conversation_id, message_id, source_owner_id, status, context \
             from comparisons where id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        let Some((batch_id, conversation_id, message_id, source_owner_id, status, context)) = row else {
            return Ok(None);
        };
        let rows: Vec<CompletionRow> = sqlx::query_as(
            "select id, text, message_id, model_version_id, sampling, finish_reason from completions \
             where comparison_id = $1 order by position",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let completions = rows
            .into_iter()
            .map(|row| {
                Ok(Completion {
                    id: uuid(&row.id)?,
                    message_id: row.message_id.as_deref().map(uuid).transpose()?,
                    model_version_id: row.model_version_id.as_deref().map(uuid).transpose()?,
                    sampling: json(row.sampling.as_deref(), &row.id)?,
                    text: row.text,
                    finish_reason: row.finish_reason,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let comparison = StoredComparison {
            id,
            batch_id: uuid(&batch_id)?,
            conversation_id: uuid(&conversation_id)?,
            message_id: uuid(&message_id)?,
            source_owner_id: uuid(&source_owner_id)?,
            context: json(context.as_deref(), &id.to_string())?,
            status,
            completions,
        };
        if comparison.status == "ready" {
            self.ready.put(id, std::sync::Arc::new(comparison.clone()));
        }
        Ok(Some(comparison))
    }

    pub(super) async fn lease_slot(
        &self,
        user: Uuid,
        now: &str,
        expires_at: &str,
    ) -> Result<Option<Lease>, StoreError> {
        let held: Option<(String, i64, String)> = sqlx::query_as(
            "select comparison_id, slot, lease_expires_at from comparison_slots \
             where holder_id = $1 and lease_expires_at >= $2 and done_by is null \
             order by lease_expires_at limit 1",
        )
        .bind(user.to_string())
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        if let Some(held) = held {
            return lease_from(held).map(Some);
        }
        // PostgreSQL: a row another request is leasing is skipped, so trainers asking at
        // once spread over the queue; finding nothing that way, the lease waits its turn for
        // the rows that were skipped rather than answer "nothing" while slots are free.
        let (take_over, next_free, next_free_waiting) = match self.engine() {
            Engine::Postgres => (
                take_over!("for update of s skip locked"),
                next_free!("for update of c skip locked"),
                next_free!("for update of c"),
            ),
            Engine::Sqlite => (take_over!(""), next_free!(""), next_free!("")),
        };
        let user_id = user.to_string();
        let mut tx = self.write_tx().await?;
        let taken: Option<(String, i64, i64)> = sqlx::query_as(take_over)
            .bind(&user_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let (cursor,): (i64,) =
            sqlx::query_as("select coalesce(max(queue_key), 0) from rank_cursors where user_id = $1")
                .bind(&user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        let mut found = next_from(&mut tx, next_free, &user_id, now, cursor).await?;
        if found.is_none() && self.engine() == Engine::Postgres {
            found = next_from(&mut tx, next_free_waiting, &user_id, now, cursor).await?;
        }
        // Nothing after the cursor: walk from the start once, for a comparison that became
        // ready behind it (two PostgreSQL samplers committing out of order). Only a trainer
        // at the end of the queue pays for this walk.
        if found.is_none() && taken.is_none() && cursor > 0 {
            found = next_from(&mut tx, next_free_waiting, &user_id, now, 0).await?;
        }
        // The older of the two: a slot whose lease ran out, or a free one.
        let pick = match (taken, found) {
            (Some((_, _, over)), Some((id, key))) if key < over => Pick::Free(id, key),
            (Some((id, slot, _)), _) => Pick::TakeOver(id, slot),
            (None, Some((id, key))) => Pick::Free(id, key),
            (None, None) => return Ok(None),
        };
        // A free slot: the lowest one nobody holds or did (a held slot is taken over as is).
        let (comparison_id, slot) = match pick {
            Pick::TakeOver(comparison_id, slot) => (comparison_id, Some(slot)),
            Pick::Free(comparison_id, key) => {
                if key > cursor {
                    sqlx::query(
                        "insert into rank_cursors (user_id, queue_key) values ($1, $2) \
                         on conflict (user_id) do update set queue_key = excluded.queue_key",
                    )
                    .bind(&user_id)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
                let freed = sqlx::query(
                    "update comparisons set free_slots = free_slots - 1 where id = $1 and free_slots > 0",
                )
                .bind(&comparison_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                changed(freed, "free slot")?;
                (comparison_id, None)
            }
        };
        let row: Option<(String, i64, String)> = sqlx::query_as(
            "update comparison_slots set holder_id = $1, lease_expires_at = $2 \
             where comparison_id = $3 and slot = coalesce($4, (select min(slot) from comparison_slots \
                 where comparison_id = $3 and holder_id is null and done_by is null)) \
             returning comparison_id, slot, lease_expires_at",
        )
        .bind(&user_id)
        .bind(expires_at)
        .bind(&comparison_id)
        .bind(slot)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let row = row.ok_or_else(|| corrupt("free slot count of", &comparison_id))?;
        tx.commit().await.map_err(backend)?;
        lease_from(row).map(Some)
    }

    pub(super) async fn lease_held(
        &self,
        comparison_id: Uuid,
        user: Uuid,
        now: &str,
    ) -> Result<Option<Lease>, StoreError> {
        let held: Option<(String, i64, String)> = sqlx::query_as(
            "select comparison_id, slot, lease_expires_at from comparison_slots \
             where comparison_id = $1 and holder_id = $2 and lease_expires_at >= $3 and done_by is null",
        )
        .bind(comparison_id.to_string())
        .bind(user.to_string())
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        held.map(lease_from).transpose()
    }

    pub(super) async fn skip(&self, comparison_id: Uuid, user: Uuid, now: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let released = sqlx::query(
            "update comparison_slots set lease_expires_at = $3 \
             where comparison_id = $1 and holder_id = $2 and done_by is null and lease_expires_at <> $3",
        )
        .bind(comparison_id.to_string())
        .bind(user.to_string())
        .bind(LEASE_OVER)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        changed(released, "lease")?;
        sqlx::query(
            "insert into comparison_skips (comparison_id, user_id, skipped_at) values ($1, $2, $3) \
             on conflict do nothing",
        )
        .bind(comparison_id.to_string())
        .bind(user.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn ranking_by_id(&self, id: Uuid) -> Result<Option<SubmittedRanking>, StoreError> {
        let sql = concat!("select ", ranking_columns!(), " from rankings where id = $1");
        let row: Option<RankingRow> =
            sqlx::query_as(sql).bind(id.to_string()).fetch_optional(self.pool()).await.map_err(backend)?;
        row.map(RankingRow::into_ranking).transpose()
    }

    pub(super) async fn insert_ranking(
        &self,
        new: NewRanking,
        now: &str,
    ) -> Result<SubmittedRanking, StoreError> {
        if let Some(stored) = self.ranking_by_id(new.id).await? {
            return retried(stored, new.ranked_by, new.comparison_id);
        }
        let mut tx = self.write_tx().await?;
        // A first ranking ends the caller's lease on one of its slots; with none live, it is
        // a revision of an earlier one (which keeps its slot), a retry, or too late.
        let finished: Option<(i64,)> = sqlx::query_as(
            "update comparison_slots set done_by = $2, holder_id = null, lease_expires_at = null \
             where comparison_id = $1 and holder_id = $2 and lease_expires_at >= $3 and done_by is null \
             returning slot",
        )
        .bind(new.comparison_id.to_string())
        .bind(new.ranked_by.to_string())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let (revisions, slot) = match finished {
            Some((slot,)) => (0, slot),
            None => {
                let (revisions, slot): (i64, Option<i64>) = sqlx::query_as(
                    "select count(*), min(slot) from rankings where comparison_id = $1 and ranked_by = $2",
                )
                .bind(new.comparison_id.to_string())
                .bind(new.ranked_by.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
                match slot {
                    Some(slot) => (revisions, slot),
                    None => {
                        drop(tx);
                        // A retry that lost the race to its first try finds that one stored.
                        return match self.ranking_by_id(new.id).await? {
                            Some(stored) => retried(stored, new.ranked_by, new.comparison_id),
                            None => Err(StoreError::NotFound("lease")),
                        };
                    }
                }
            }
        };
        let ranking = SubmittedRanking {
            id: new.id,
            comparison_id: new.comparison_id,
            ranked_by: new.ranked_by,
            revision: revisions + 1,
            ranking: new.ranking,
            cannot_rank: new.cannot_rank,
            shown_order: new.shown_order,
            labels: new.labels,
            rationale: new.rationale,
            created_at: now.to_string(),
        };
        let sql = concat!(
            "insert into rankings (",
            ranking_columns!(),
            ", slot) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let inserted = sqlx::query(sql)
            .bind(ranking.id.to_string())
            .bind(ranking.comparison_id.to_string())
            .bind(ranking.ranked_by.to_string())
            .bind(ranking.revision)
            .bind(ranking.ranking.as_ref().map(to_json).transpose()?)
            .bind(ranking.cannot_rank.clone())
            .bind(to_json(&ranking.shown_order)?)
            .bind(to_json(&ranking.labels)?)
            .bind(&ranking.rationale)
            .bind(&ranking.created_at)
            .bind(slot)
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            // PostgreSQL: a concurrent twin committed first (same id), or another revision
            // took this number. The twin answers with what it stored; the other is stale.
            Err(err) if super::is_unique_violation(&err) => {
                drop(tx);
                return match self.ranking_by_id(new.id).await? {
                    Some(stored) => retried(stored, new.ranked_by, new.comparison_id),
                    None => Err(StoreError::Stale("ranking")),
                };
            }
            Err(err) => return Err(backend(err)),
        }
        tx.commit().await.map_err(backend)?;
        Ok(ranking)
    }

    pub(super) async fn rankings_by(
        &self,
        comparison_id: Uuid,
        user: Uuid,
    ) -> Result<Vec<SubmittedRanking>, StoreError> {
        let sql = concat!(
            "select ",
            ranking_columns!(),
            " from rankings where comparison_id = $1 and ranked_by = $2 order by revision"
        );
        let rows: Vec<RankingRow> = sqlx::query_as(sql)
            .bind(comparison_id.to_string())
            .bind(user.to_string())
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.into_iter().map(RankingRow::into_ranking).collect()
    }

    pub(super) async fn progress_of(
        &self,
        user: Uuid,
        since: &str,
        now: &str,
    ) -> Result<RankProgress, StoreError> {
        let (done_today,): (i64,) = sqlx::query_as(
            "select count(*) from rankings where ranked_by = $1 and revision = 1 and created_at >= $2",
        )
        .bind(user.to_string())
        .bind(since)
        .fetch_one(self.pool())
        .await
        .map_err(backend)?;
        // Counted through the same indexes as a lease, and only up to just past the cap: a
        // count of a queue of a million would read all of it on every submit.
        let cap = RankProgress::COUNT_CAP + 1;
        let mut queue_left = 0;
        for sql in QUEUE_LEFT {
            let (count,): (i64,) = sqlx::query_as(sql)
                .bind(user.to_string())
                .bind(now)
                .bind(cap)
                .fetch_one(self.pool())
                .await
                .map_err(backend)?;
            queue_left += count;
        }
        let queue_left = queue_left.min(cap);
        Ok(RankProgress { done_today, queue_left })
    }

    pub(super) async fn recent_rankings_of(
        &self,
        user: Uuid,
        limit: i64,
    ) -> Result<Vec<RankedItem>, StoreError> {
        let rows: Vec<RankedRow> = sqlx::query_as(
            "select r.comparison_id, r.revision, r.created_at, r.cannot_rank, \
             (select case when m.role = 'user' then m.text else p.text end from comparisons c \
                 join messages m on m.id = c.message_id left join messages p on p.id = m.parent_id \
                 where c.id = r.comparison_id) \
             from rankings r where r.ranked_by = $1 and r.revision = (select max(o.revision) from rankings o \
                 where o.comparison_id = r.comparison_id and o.ranked_by = $1) \
             order by r.created_at desc, r.comparison_id limit $2",
        )
        .bind(user.to_string())
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(comparison_id, revision, created_at, cannot_rank, title)| {
                Ok(RankedItem {
                    comparison_id: uuid(&comparison_id)?,
                    revision,
                    created_at,
                    title: shorten(&title.unwrap_or_default(), 80),
                    cannot_rank: cannot_rank.is_some(),
                })
            })
            .collect()
    }
}

/// What a lease takes: the slot of a lease that ran out, or a free slot of a comparison (with
/// its place in the queue).
enum Pick {
    TakeOver(String, i64),
    Free(String, i64),
}

/// The first comparison with a free slot the user may rank, at or after queue place `from`.
async fn next_from(
    tx: &mut super::WriteTx,
    sql: &'static str,
    user: &str,
    now: &str,
    from: i64,
) -> Result<Option<(String, i64)>, StoreError> {
    sqlx::query_as(sql).bind(user).bind(now).bind(from).fetch_optional(&mut **tx).await.map_err(backend)
}

/// A stored ranking found again under a retried id: the same author's retry gets it back.
/// A ranking id already stored: the same submission again answers what was stored; any
/// other use of the id (someone else's, or another comparison) is a taken id, answered alike.
fn retried(stored: SubmittedRanking, by: Uuid, comparison_id: Uuid) -> Result<SubmittedRanking, StoreError> {
    if stored.ranked_by != by || stored.comparison_id != comparison_id {
        return Err(StoreError::AlreadyMade("ranking"));
    }
    Ok(stored)
}

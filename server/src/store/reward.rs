//! Reward-model runs: started once per id, one running at a time, progress and heartbeat
//! written by the instance running it, a cancel asked of any instance.

use super::{SqlStore, backend, is_unique_violation, json, to_json, uuid};
use app::reward::{RewardOptions, RewardResult, RewardRun, RunStatus};
use app::ssr::StoreError;
use app::ssr::clock::{now_rfc3339, rfc3339_in};
use uuid::Uuid;

/// A run whose heartbeat is older than this was left by a server that stopped.
pub const HEARTBEAT_SECS: i64 = 120;

struct RunRow {
    id: String,
    created_at: String,
    finished_at: Option<String>,
    options: String,
    status: String,
    progress: f64,
    message: String,
    result: Option<String>,
}
crate::store::from_columns!(RunRow {
    id,
    created_at,
    finished_at,
    options,
    status,
    progress,
    message,
    result
});

macro_rules! select_runs {
    ($rest:literal) => {
        concat!(
            "select id, created_at, finished_at, options, status, progress, message, result from reward_runs ",
            $rest
        )
    };
}

impl RunRow {
    fn into_run(self) -> Result<RewardRun, StoreError> {
        Ok(RewardRun {
            id: uuid(&self.id)?,
            created_at: self.created_at,
            finished_at: self.finished_at,
            options: json::<RewardOptions>(Some(&self.options), &self.id)?.unwrap_or_default(),
            status: self.status.parse().map_err(StoreError::Backend)?,
            progress: self.progress,
            message: self.message,
            result: json::<RewardResult>(self.result.as_deref(), &self.id)?,
        })
    }
}

/// Why a run could not start.
pub enum StartRefused {
    /// Another run is under way.
    Busy,
    Store(StoreError),
}

impl SqlStore {
    pub async fn reward_run(&self, id: Uuid) -> Result<Option<RewardRun>, StoreError> {
        let row: Option<RunRow> = sqlx::query_as(select_runs!("where id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(RunRow::into_run).transpose()
    }

    pub async fn reward_runs(&self) -> Result<Vec<RewardRun>, StoreError> {
        let rows: Vec<RunRow> = sqlx::query_as(select_runs!("order by created_at desc, id limit 50"))
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.into_iter().map(RunRow::into_run).collect()
    }

    /// Stores a new run as running, unless one is (a run whose server stopped, its
    /// heartbeat stale, is marked failed first). A start retried with the same id answers
    /// the run stored.
    pub async fn start_reward_run(
        &self,
        id: Uuid,
        by: Uuid,
        options: &RewardOptions,
    ) -> Result<(RewardRun, bool), StartRefused> {
        if let Some(run) = self.reward_run(id).await.map_err(StartRefused::Store)? {
            return Ok((run, false));
        }
        let now = now_rfc3339();
        sqlx::query(
            "update reward_runs set status = 'failed', message = 'the server running it stopped', finished_at = $1 \
             where status = 'running' and heartbeat_at < $2",
        )
        .bind(&now)
        .bind(rfc3339_in(-HEARTBEAT_SECS))
        .execute(self.pool())
        .await
        .map_err(|e| StartRefused::Store(backend(e)))?;
        let inserted = sqlx::query(
            "insert into reward_runs (id, created_by, options, status, progress, message, heartbeat_at, created_at) \
             values ($1, $2, $3, 'running', 0, 'starting', $4, $4)",
        )
        .bind(id.to_string())
        .bind(by.to_string())
        .bind(to_json(options).map_err(StartRefused::Store)?)
        .bind(&now)
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => {}
            // The same id sent twice at once: the first made it.
            Err(err) if is_unique_violation(&err) => {
                return match self.reward_run(id).await.map_err(StartRefused::Store)? {
                    Some(run) => Ok((run, false)),
                    None => Err(StartRefused::Busy),
                };
            }
            Err(err) => return Err(StartRefused::Store(backend(err))),
        }
        let run = self.reward_run(id).await.map_err(StartRefused::Store)?;
        run.map(|r| (r, true)).ok_or_else(|| StartRefused::Store(StoreError::NotFound("reward run".into())))
    }

    /// Progress and heartbeat of a running run, in one statement; answers whether it should
    /// stop: a cancel was asked for, or it is no longer running (another instance found its
    /// heartbeat stale).
    pub async fn reward_progress(&self, id: Uuid, progress: f64, message: &str) -> Result<bool, StoreError> {
        let cancel: Option<(i64,)> = sqlx::query_as(
            "update reward_runs set progress = $2, message = $3, heartbeat_at = $4 where id = $1 and status = 'running' \
             returning cancel_requested",
        )
        .bind(id.to_string())
        .bind(progress)
        .bind(message)
        .bind(now_rfc3339())
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        Ok(cancel.is_none_or(|(c,)| c != 0))
    }

    /// The latest finished run.
    pub async fn latest_done_reward_run(&self) -> Result<Option<RewardRun>, StoreError> {
        let row: Option<RunRow> =
            sqlx::query_as(select_runs!("where status = 'done' order by finished_at desc, id limit 1"))
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        row.map(RunRow::into_run).transpose()
    }

    /// The batch of every ready comparison, by comparison (ids as text).
    pub async fn batches_of_comparisons(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("select id, batch_id from comparisons where status = 'ready'")
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
        Ok(rows.into_iter().collect())
    }

    pub async fn finish_reward_run(
        &self,
        id: Uuid,
        status: RunStatus,
        message: &str,
        result: Option<&RewardResult>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update reward_runs set status = $2, message = $3, result = $4, progress = $5, finished_at = $6 \
             where id = $1 and status = 'running'",
        )
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(message)
        .bind(result.map(to_json).transpose()?)
        .bind(if status == RunStatus::Done { 1.0 } else { 0.0 })
        .bind(now_rfc3339())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    /// Asks a running run to stop (its instance sees it at its next heartbeat).
    pub async fn cancel_reward_run(&self, id: Uuid) -> Result<Option<RewardRun>, StoreError> {
        sqlx::query("update reward_runs set cancel_requested = 1, message = 'cancelling' where id = $1 and status = 'running'")
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(backend)?;
        self.reward_run(id).await
    }
}

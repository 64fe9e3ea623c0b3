use super::{Engine, SqlStore, backend};
use app::ssr::clock::rfc3339_in;
use app::ssr::{LoginAttempt, LoginGate, StoreError};

/// Failures older than this are forgotten (longer than any rate-limit window).
const KEEP_FAILURES_SECS: i64 = 24 * 3600;

impl SqlStore {
    pub(super) async fn insert_login_failure(&self, key: &str, at: &str) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        write_failure(&mut conn, key, at).await
    }

    pub(super) async fn count_login_failures(
        &self,
        key: &str,
        since: &str,
    ) -> Result<(i64, Option<String>), StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        failures_since(&mut conn, key, since).await
    }

    pub(super) async fn delete_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("delete from login_failures where key = $1")
            .bind(key)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn gate_login(&self, gate: &LoginGate) -> Result<LoginAttempt, StoreError> {
        let mut tx = self.write_tx().await?;
        if self.engine() == Engine::Postgres {
            // Attempts on one account queue here; SQLite's write lock does the same.
            sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
                .bind(&gate.account_key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let (account, oldest) = failures_since(&mut tx, &gate.account_key, &gate.since).await?;
        if account >= gate.account_limit {
            return Ok(LoginAttempt::Refused { oldest });
        }
        if account > 0 {
            let (address, oldest) = failures_since(&mut tx, &gate.address_key, &gate.since).await?;
            if address >= gate.address_limit {
                return Ok(LoginAttempt::Refused { oldest });
            }
        }
        write_failure(&mut tx, &gate.account_key, &gate.now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(LoginAttempt::Open)
    }
}

/// Failures under `key` since `since`, and the oldest of them.
async fn failures_since(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    since: &str,
) -> Result<(i64, Option<String>), StoreError> {
    sqlx::query_as("select count(*), min(at) from login_failures where key = $1 and at >= $2")
        .bind(key)
        .bind(since)
        .fetch_one(conn)
        .await
        .map_err(backend)
}

/// Stores a failure under `key`, forgetting that key's failures older than a day.
async fn write_failure(conn: &mut sqlx::AnyConnection, key: &str, at: &str) -> Result<(), StoreError> {
    sqlx::query("delete from login_failures where key = $1 and at < $2")
        .bind(key)
        .bind(rfc3339_in(-KEEP_FAILURES_SECS))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    sqlx::query("insert into login_failures (key, at) values ($1, $2)")
        .bind(key)
        .bind(at)
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

use super::{SqlStore, backend};
use app::ssr::StoreError;
use app::ssr::clock::rfc3339_in;

/// Failures older than this are forgotten (longer than any rate-limit window).
const KEEP_FAILURES_SECS: i64 = 24 * 3600;

impl SqlStore {
    pub(super) async fn insert_login_failure(&self, key: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("delete from login_failures where key = $1 and at < $2")
            .bind(key)
            .bind(rfc3339_in(-KEEP_FAILURES_SECS))
            .execute(self.pool())
            .await
            .map_err(backend)?;
        sqlx::query("insert into login_failures (key, at) values ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn count_login_failures(
        &self,
        key: &str,
        since: &str,
    ) -> Result<(i64, Option<String>), StoreError> {
        sqlx::query_as("select count(*), min(at) from login_failures where key = $1 and at >= $2")
            .bind(key)
            .bind(since)
            .fetch_one(self.pool())
            .await
            .map_err(backend)
    }

    pub(super) async fn delete_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("delete from login_failures where key = $1")
            .bind(key)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}

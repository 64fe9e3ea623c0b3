use super::{SqlStore, backend};
use app::domain::User;
use app::ssr::clock::now_rfc3339;
use app::ssr::{SessionRecord, StoreError};
use uuid::Uuid;

impl SqlStore {
    pub(super) async fn insert_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        let now = now_rfc3339();
        // Expired sessions are swept here rather than by a timer: sign-ins are rare enough.
        sqlx::query("delete from sessions where expires_at < $1")
            .bind(&now)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        sqlx::query(
            "insert into sessions (token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.to_string())
        .bind(&now)
        .bind(&session.expires_at)
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn user_of_session(
        &self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<User>, StoreError> {
        let user_id: Option<(String,)> =
            sqlx::query_as("select user_id from sessions where token_hash = $1 and expires_at > $2")
                .bind(token_hash)
                .bind(now)
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        match user_id.and_then(|(id,)| Uuid::parse_str(&id).ok()) {
            Some(id) => self.user_by_id(id).await,
            None => Ok(None),
        }
    }

    pub(super) async fn remove_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from sessions where token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}

use super::users::UserRow;
use super::{SqlStore, backend};
use app::domain::User;
use app::ssr::clock::now_rfc3339;
use app::ssr::{SessionRecord, StoreError};

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
        // One statement: every request that needs a role asks this.
        let row: Option<UserRow> = sqlx::query_as(
            "select u.id, u.email, u.role, u.created_at, u.password_hash, u.deactivated_at, \
             u.must_change_password from sessions s join users u on u.id = s.user_id \
             where s.token_hash = $1 and s.expires_at > $2 and u.deactivated_at is null",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        Ok(row.map(UserRow::into_stored).transpose()?.map(|s| s.user))
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

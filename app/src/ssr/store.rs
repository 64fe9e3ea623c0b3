//! The store port: what server functions need from persistence. `server/src/store`
//! implements it with sqlx for SQLite and PostgreSQL.

use crate::domain::{ApiKey, Role, User, UserCounts};
use async_trait::async_trait;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an account with this e-mail already exists")]
    DuplicateEmail,
    #[error("the first admin already exists")]
    AlreadySetUp,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A retried request whose first try made a thing that cannot be shown again.
    #[error("this {0} was made already")]
    AlreadyMade(&'static str),
    #[error("database: {0}")]
    Backend(String),
}

pub struct NewUser {
    /// Made by the client, so a retried submit finds the account it already made.
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
}

pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
}

pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: Uuid,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn user_count(&self) -> Result<i64, StoreError>;
    /// Creates the first admin, only while no user exists; the check and the insert are
    /// one transaction. A retry with the same id returns the account made the first time.
    async fn create_first_admin(&self, user: NewUser) -> Result<User, StoreError>;
    /// Creates an account. A retry with the same id (and e-mail) returns the stored account.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    async fn admin_count(&self) -> Result<i64, StoreError>;
    async fn set_role(&self, user_id: Uuid, role: Role) -> Result<User, StoreError>;
    async fn user_counts(&self, user_id: Uuid) -> Result<UserCounts, StoreError>;

    async fn create_session(&self, session: SessionRecord) -> Result<(), StoreError>;
    /// The user of an unexpired session.
    async fn session_user(&self, token_hash: &str, now: &str) -> Result<Option<User>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Records a failed sign-in under a key (an e-mail or an address).
    async fn record_login_failure(&self, key: &str, at: &str) -> Result<(), StoreError>;
    /// Failed sign-ins under `key` since `since`, and the oldest of them.
    async fn login_failures_since(&self, key: &str, since: &str)
    -> Result<(i64, Option<String>), StoreError>;
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;

    /// Stores a new API key by the hash of its secret. A retry with the same id is refused
    /// with `AlreadyMade` (the secret shown the first time is not kept).
    async fn create_api_key(
        &self,
        id: Uuid,
        name: &str,
        secret_hash: &str,
        created_by: Option<Uuid>,
    ) -> Result<ApiKey, StoreError>;
    /// The unrevoked key with this secret hash.
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(&self, id: Uuid) -> Result<ApiKey, StoreError>;

    /// Records a model version (once per fingerprint) and returns its id.
    async fn register_model(&self, info: &crate::model::ModelInfo) -> Result<Uuid, StoreError>;
    /// Every recorded version, oldest first; `served`, `ready` and `active` left false.
    async fn list_model_versions(&self) -> Result<Vec<crate::model::ModelVersion>, StoreError>;
    async fn active_model(&self) -> Result<Option<Uuid>, StoreError>;
    async fn set_active_model(&self, id: Uuid) -> Result<(), StoreError>;
}

use super::{SqlStore, backend, is_unique_violation};
use app::domain::ApiKey;
use app::ssr::StoreError;
use app::ssr::clock::now_rfc3339;
use uuid::Uuid;

struct ApiKeyRow {
    id: String,
    name: String,
    created_at: String,
    revoked_at: Option<String>,
}
crate::store::from_columns!(ApiKeyRow { id, name, created_at, revoked_at });

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self, Self::Error> {
        Ok(ApiKey {
            id: Uuid::parse_str(&row.id)
                .map_err(|_| StoreError::Backend(format!("api key {}: bad id", row.id)))?,
            name: row.name,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

macro_rules! select_keys {
    ($rest:literal) => {
        concat!("select id, name, created_at, revoked_at from api_keys ", $rest)
    };
}

impl SqlStore {
    async fn api_key_by_id(&self, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<ApiKeyRow> = sqlx::query_as(select_keys!("where id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(ApiKey::try_from).transpose()
    }

    pub(super) async fn insert_api_key(
        &self,
        id: Uuid,
        name: &str,
        secret_hash: &str,
        created_by: Option<Uuid>,
    ) -> Result<ApiKey, StoreError> {
        let inserted = sqlx::query(
            "insert into api_keys (id, name, key_hash, created_by, created_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(secret_hash)
        .bind(created_by.map(|id| id.to_string()))
        .bind(now_rfc3339())
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => self.api_key_by_id(id).await?.ok_or(StoreError::NotFound("api key")),
            // The same request again. Its secret was shown once and is not kept, so it cannot
            // be answered again: say so rather than hand out a secret that does not work.
            Err(err) if is_unique_violation(&err) => match self.api_key_by_id(id).await? {
                Some(_) => Err(StoreError::AlreadyMade("api key")),
                None => Err(backend(err)),
            },
            Err(err) => Err(backend(err)),
        }
    }

    pub(super) async fn find_api_key(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<ApiKeyRow> =
            sqlx::query_as(select_keys!("where key_hash = $1 and revoked_at is null"))
                .bind(secret_hash)
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        row.map(ApiKey::try_from).transpose()
    }

    pub(super) async fn all_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(select_keys!("order by created_at, name"))
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    pub(super) async fn mark_api_key_revoked(&self, id: Uuid) -> Result<ApiKey, StoreError> {
        sqlx::query("update api_keys set revoked_at = $1 where id = $2 and revoked_at is null")
            .bind(now_rfc3339())
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(backend)?;
        self.api_key_by_id(id).await?.ok_or(StoreError::NotFound("api key"))
    }
}

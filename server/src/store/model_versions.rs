use super::{SqlStore, backend};
use app::model::{ModelInfo, ModelVersion};
use app::ssr::StoreError;
use app::ssr::clock::now_rfc3339;
use uuid::Uuid;

struct VersionRow {
    id: String,
    name: String,
    source: String,
    sha256: Option<String>,
    registered_at: String,
}
crate::store::from_columns!(VersionRow { id, name, source, sha256, registered_at });

fn parse_id(id: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(id).map_err(|_| StoreError::Backend(format!("model version {id}: bad id")))
}

/// The file's hash names a local model wherever it lives; a remote one is its engine + name.
fn fingerprint(info: &ModelInfo) -> String {
    match &info.sha256 {
        Some(sha256) => format!("sha256:{sha256}"),
        None => format!("remote:{}#{}", info.source, info.name),
    }
}

impl SqlStore {
    pub(super) async fn upsert_model_version(&self, info: &ModelInfo) -> Result<Uuid, StoreError> {
        let fingerprint = fingerprint(info);
        sqlx::query(
            "insert into model_versions (id, name, source, sha256, fingerprint, registered_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (fingerprint) do nothing",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(&info.name)
        .bind(&info.source)
        .bind(&info.sha256)
        .bind(&fingerprint)
        .bind(now_rfc3339())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        let (id,): (String,) = sqlx::query_as("select id from model_versions where fingerprint = $1")
            .bind(&fingerprint)
            .fetch_one(self.pool())
            .await
            .map_err(backend)?;
        parse_id(&id)
    }

    pub(super) async fn all_model_versions(&self) -> Result<Vec<ModelVersion>, StoreError> {
        let rows: Vec<VersionRow> = sqlx::query_as(
            "select id, name, source, sha256, registered_at from model_versions order by registered_at, name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|row| {
                Ok(ModelVersion {
                    id: parse_id(&row.id)?,
                    name: row.name,
                    source: row.source,
                    sha256: row.sha256,
                    registered_at: row.registered_at,
                    served: false,
                    ready: false,
                    active: false,
                })
            })
            .collect()
    }

    pub(super) async fn active_model_version(&self) -> Result<Option<Uuid>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("select model_version_id from active_model where id = 1")
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(|(id,)| parse_id(&id)).transpose()
    }

    pub(super) async fn choose_active_model(&self, id: Uuid) -> Result<(), StoreError> {
        let known: Option<(String,)> = sqlx::query_as("select id from model_versions where id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        if known.is_none() {
            return Err(StoreError::NotFound("model version"));
        }
        sqlx::query(
            "insert into active_model (id, model_version_id, set_at) values (1, $1, $2) \
             on conflict (id) do update set model_version_id = excluded.model_version_id, set_at = excluded.set_at",
        )
        .bind(id.to_string())
        .bind(now_rfc3339())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }
}

use super::{SqlStore, backend};
use app::domain::Guidelines;
use app::ssr::StoreError;
use app::ssr::clock::now_rfc3339;
use uuid::Uuid;

impl SqlStore {
    pub(super) async fn load_guidelines(&self, area: &str) -> Result<Option<Guidelines>, StoreError> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("select area, markdown, updated_at from guidelines where area = $1")
                .bind(area)
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        Ok(row.map(|(area, markdown, updated_at)| Guidelines { area, markdown, updated_at }))
    }

    pub(super) async fn store_guidelines(
        &self,
        area: &str,
        markdown: &str,
        by: Uuid,
    ) -> Result<Guidelines, StoreError> {
        let now = now_rfc3339();
        sqlx::query(
            "insert into guidelines (area, markdown, updated_by, updated_at) values ($1, $2, $3, $4) \
             on conflict (area) do update set markdown = excluded.markdown, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(area)
        .bind(markdown)
        .bind(by.to_string())
        .bind(&now)
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(Guidelines { area: area.to_string(), markdown: markdown.to_string(), updated_at: now })
    }
}

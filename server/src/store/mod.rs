//! The sqlx store: one implementation of the app's `Store` port for SQLite and PostgreSQL,
//! through sqlx's `Any` driver. Both engines get the same schema from their own migration
//! folder (same version numbers), so queries stay portable: `$1` placeholders, uuids and
//! times as TEXT.

mod api_keys;
mod comparisons;
mod conversations;
pub mod datasets;
mod feedback;
mod filter;
mod guidelines;
mod login_failures;
mod model_versions;
mod port;
mod ranking_verdicts;
mod reviews;
pub mod reward;
mod sessions;
mod stats;
mod users;

use anyhow::Context;
use app::ssr::{StoreError, StoredComparison};
use sqlx::AnyPool;
use sqlx::SqlSafeStr;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use uuid::Uuid;

/// `sqlx::FromRow` for a struct read from the row's columns of its fields' names, as
/// `#[derive(sqlx::FromRow)]` writes it. The derive is in sqlx's `macros`, and the macros'
/// crate builds sqlx, both drivers and SQLite's C source a second time, for the compiler.
/// A field left out of the list is a compile error (the struct literal misses it). Fields
/// after `within` are rows themselves, read from the same columns (the derive's
/// `#[sqlx(flatten)]`).
macro_rules! from_columns {
    ($row:ident { $($field:ident),* $(,)? } $(within { $($nested:ident),* $(,)? })?) => {
        impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for $row {
            fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok($row {
                    $($field: row.try_get(stringify!($field))?,)*
                    $($($nested: sqlx::FromRow::from_row(row)?,)*)?
                })
            }
        }
    };
}
pub(crate) use from_columns;

/// Each migration file's name and its SQL for SQLite and for PostgreSQL (the two folders
/// hold the same names), in the binary as `sqlx::migrate!` would put them, without sqlx's
/// macros (see `from_columns`). `embedded_migrations_are_the_folders` checks the list.
macro_rules! embed_migrations {
    ($($file:literal),* $(,)?) => {
        const MIGRATION_FILES: &[(&str, &str, &str)] = &[$((
            $file,
            include_str!(concat!("../../../migrations/sqlite/", $file)),
            include_str!(concat!("../../../migrations/postgres/", $file)),
        )),*];
    };
}

embed_migrations!(
    "0001_accounts.sql",
    "0002_api_keys.sql",
    "0003_model_versions.sql",
    "0004_conversations.sql",
    "0005_suggestions_drafts_guidelines.sql",
    "0006_comparisons.sql",
    "0007_feedback_filter.sql",
    "0008_datasets.sql",
    "0009_reviews.sql",
    "0010_prompt_comparisons.sql",
    "0011_submission_requests.sql",
    "0012_rank_queue.sql",
    "0013_reviewer_edits.sql",
    "0014_suggestion_stops.sql",
    "0015_account_states.sql",
    "0016_rank_drafts.sql",
    "0017_imported_rankings.sql",
    "0018_reward_runs.sql",
    "0019_ranking_verdicts.sql",
    "0020_uncertainty_draw.sql",
);

static SQLITE_MIGRATIONS: LazyLock<Migrator> =
    LazyLock::new(|| migrator(|&(file, sqlite, _)| (file, sqlite)));
static POSTGRES_MIGRATIONS: LazyLock<Migrator> =
    LazyLock::new(|| migrator(|&(file, _, postgres)| (file, postgres)));

/// The migrations of one engine, each read from its file's name and SQL as sqlx reads a
/// folder: `<version>_<description>.sql`, underscores in the description as spaces, the
/// checksum of the SQL, and no transaction if it starts with `-- no-transaction`.
fn migrator(
    engine: fn(&(&'static str, &'static str, &'static str)) -> (&'static str, &'static str),
) -> Migrator {
    Migrator::with_migrations(
        MIGRATION_FILES
            .iter()
            .map(|files| {
                let (file, sql) = engine(files);
                let (version, rest) = file.split_once('_').expect("a migration's file name has a version");
                let description = rest.trim_end_matches(".sql").replace('_', " ");
                Migration::new(
                    version.parse().expect("a migration's version is a number"),
                    description.into(),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(sql).into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

/// How long a SQLite statement waits for another connection's write lock before failing.
const SQLITE_BUSY_TIMEOUT: &str = "pragma busy_timeout = 60000";
/// How long a write waits for its turn among this process's writers (the same bound).
const WRITE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    engine: Engine,
    ready: Arc<ReadyCache>,
    /// SQLite: whose turn it is to write. SQLite takes one writer at a time and makes the
    /// others sleep and retry (1 ms, 2 ms, 5 ms and longer); writers of this process wait
    /// here in order instead, and the lock is free whenever one asks for it.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// An open write transaction, with this process's turn to write on SQLite. It reads as the
/// connection it runs on (`&mut *tx` is an executor); dropped uncommitted, it rolls back.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// How many ready comparisons are kept in memory: a few MB with K = 4 short completions.
const READY_CACHE: usize = 4096;

type Generation = HashMap<Uuid, Arc<StoredComparison>>;

/// Ready comparisons by id, bounded: two generations, the younger filled until it holds half
/// the bound, then the older dropped. A hit in the older one moves it to the younger.
#[derive(Default)]
struct ReadyCache {
    generations: Mutex<[Generation; 2]>,
}

impl ReadyCache {
    fn get(&self, id: Uuid) -> Option<Arc<StoredComparison>> {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = generations[0].get(&id) {
            return Some(hit.clone());
        }
        let hit = generations[1].remove(&id)?;
        Self::insert(&mut generations, id, hit.clone());
        Some(hit)
    }

    fn put(&self, id: Uuid, comparison: Arc<StoredComparison>) {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        Self::insert(&mut generations, id, comparison);
    }

    fn insert(generations: &mut [Generation; 2], id: Uuid, comparison: Arc<StoredComparison>) {
        if generations[0].len() >= READY_CACHE / 2 {
            generations[1] = std::mem::take(&mut generations[0]);
        }
        generations[0].insert(id, comparison);
    }
}

impl SqlStore {
    pub async fn connect(url: &str) -> anyhow::Result<SqlStore> {
        install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://, not {url:?}");
        };
        // SQLite allows one writer at a time; a small pool avoids needless lock waits, and
        // leaves readers connections while writers queue for the lock.
        let max_connections = if engine == Engine::Sqlite { 8 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(60))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // A writer waits for the lock (a long import holds it for seconds)
                        // instead of failing at once with "database is locked".
                        sqlx::query(SQLITE_BUSY_TIMEOUT).execute(&mut *conn).await?;
                        // In WAL mode a commit reaches the log before it is acknowledged and
                        // the log is synced at checkpoints: a killed server loses nothing it
                        // acknowledged (tests/tests/durability.rs kills it under load); only a
                        // power cut or an OS crash can lose the last commits.
                        sqlx::query("pragma synchronous = normal").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .with_context(|| format!("cannot open the database at {}", redact(url)))?;
        if engine == Engine::Sqlite {
            // Readers do not block the writer; it persists in the file.
            sqlx::query("pragma journal_mode = wal").execute(&pool).await?;
        }
        let writer = (engine == Engine::Sqlite).then(Default::default);
        Ok(SqlStore { pool, engine, ready: Default::default(), writer })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that writes. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes cannot upgrade its
    /// lock when another writer went first, and fails at once (SQLITE_BUSY_SNAPSHOT) where
    /// this one waits its turn under the busy timeout.
    async fn write_tx(&self) -> Result<WriteTx, StoreError> {
        let turn = match &self.writer {
            Some(writer) => {
                Some(tokio::time::timeout(WRITE_WAIT, writer.clone().lock_owned()).await.map_err(|_| {
                    StoreError::Backend("the database is busy: no turn to write in 60 s".into())
                })?)
            }
            None => None,
        };
        let tx = match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
        .map_err(backend)?;
        Ok(WriteTx { tx, _turn: turn })
    }

    /// Applies pending migrations. A failure stops start-up with the failing version named.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator: &Migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.context("database migration failed; nothing was started")
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_string(),
    }
}

fn backend(err: sqlx::Error) -> StoreError {
    StoreError::Backend(err.to_string())
}

/// The answer of a write that must change a row: `NotFound(what)` when it changed none.
fn changed(done: sqlx::any::AnyQueryResult, what: &'static str) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(what));
    }
    Ok(())
}

fn corrupt(what: &str, id: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {id} does not read back"))
}

fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|_| corrupt("id", text))
}

fn json<T: serde::de::DeserializeOwned>(text: Option<&str>, id: &str) -> Result<Option<T>, StoreError> {
    text.map(|t| serde_json::from_str(t).map_err(|_| corrupt("JSON of", id))).transpose()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| StoreError::Backend(err.to_string()))
}

/// The first `max` characters of a text, with an ellipsis when it was longer.
fn shorten(text: &str, max: usize) -> String {
    let mut short: String = text.chars().take(max).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, redact};
    use sqlx::migrate::Migrator;

    /// The embedded migrations are those sqlx reads from the folders at run time, file for
    /// file: the same versions, descriptions, checksums (so databases migrated by earlier
    /// builds, which embedded them with `sqlx::migrate!`, stay valid) and transaction modes.
    #[tokio::test]
    async fn embedded_migrations_are_the_folders() {
        for (engine, embedded) in [("sqlite", &*SQLITE_MIGRATIONS), ("postgres", &*POSTGRES_MIGRATIONS)] {
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(engine);
            let read = Migrator::new(folder.as_path()).await.unwrap();
            let fields = |m: &Migrator| {
                m.iter()
                    .map(|m| {
                        (m.version, m.description.to_string(), m.migration_type, m.checksum.to_vec(), m.no_tx)
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                fields(embedded),
                fields(&read),
                "{engine}: a file in migrations/{engine} is missing from embed_migrations! in store/mod.rs, or differs"
            );
        }
    }

    #[test]
    fn redact_hides_credentials() {
        assert_eq!(redact("postgres://u:secret@db:5432/x"), "postgres://…@db:5432/x");
        assert_eq!(redact("sqlite://data/parley.db"), "sqlite://data/parley.db");
    }
}

use super::{SqlStore, backend, changed, is_unique_violation};
use app::domain::{Role, User, UserCounts};
use app::ssr::clock::now_rfc3339;
use app::ssr::{NewUser, StoreError, StoredUser};
use sqlx::AnyConnection;
use uuid::Uuid;

pub(super) struct UserRow {
    id: String,
    email: String,
    role: String,
    created_at: String,
    password_hash: String,
    deactivated_at: Option<String>,
    must_change_password: i64,
}
crate::store::from_columns!(UserRow {
    id,
    email,
    role,
    created_at,
    password_hash,
    deactivated_at,
    must_change_password
});

impl UserRow {
    pub(super) fn into_stored(self) -> Result<StoredUser, StoreError> {
        let corrupt = |what: &str| StoreError::Backend(format!("user {}: bad {what}", self.id));
        let user = User {
            id: Uuid::parse_str(&self.id).map_err(|_| corrupt("id"))?,
            role: self.role.parse::<Role>().map_err(|_| corrupt("role"))?,
            email: self.email,
            created_at: self.created_at,
            deactivated_at: self.deactivated_at,
            must_change_password: self.must_change_password != 0,
        };
        Ok(StoredUser { user, password_hash: self.password_hash })
    }
}

/// The active admins; the last of them keeps the role and the account.
const ACTIVE_ADMINS: &str = "select id from users where role = 'admin' and deactivated_at is null";

/// A select of every user column, followed by the given clauses (SQL must be literal).
macro_rules! select_users {
    ($rest:literal) => {
        concat!(
            "select id, email, role, created_at, password_hash, deactivated_at, must_change_password from users ",
            $rest
        )
    };
}

impl SqlStore {
    pub(super) async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(select_users!("where id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        Ok(row.map(UserRow::into_stored).transpose()?.map(|s| s.user))
    }

    /// A unique violation on insert is either a retry of the same request (same id, same
    /// e-mail: answer with the stored account) or a taken e-mail.
    async fn resolve_conflict(&self, user: &NewUser) -> Result<User, StoreError> {
        match self.user_by_id(user.id).await? {
            Some(existing) if existing.email == user.email => Ok(existing),
            _ => Err(StoreError::DuplicateEmail),
        }
    }

    pub(super) async fn insert_user(&self, user: NewUser) -> Result<User, StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        match insert_row(&mut conn, &user).await {
            Ok(user) => Ok(user),
            Err(err) if is_unique_violation(&err) => self.resolve_conflict(&user).await,
            Err(err) => Err(backend(err)),
        }
    }

    pub(super) async fn insert_first_admin(&self, user: NewUser) -> Result<User, StoreError> {
        match self.try_insert_first_admin(&user).await {
            // The same request again (a double click, a retry): answer with what it made.
            Err(StoreError::AlreadySetUp) => match self.user_by_id(user.id).await? {
                Some(existing) if existing.email == user.email => Ok(existing),
                _ => Err(StoreError::AlreadySetUp),
            },
            other => other,
        }
    }

    async fn try_insert_first_admin(&self, user: &NewUser) -> Result<User, StoreError> {
        let mut tx = self.write_tx().await?;
        // Write first: the single `instance` row is the lock. Of two concurrent requests the
        // second waits for the first to commit, then fails on the primary key. (Reading
        // first would let both hold a read lock and deadlock on SQLite's upgrade to write.)
        sqlx::query("insert into instance (id, set_up_at) values (1, $1)")
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(|err| if is_unique_violation(&err) { StoreError::AlreadySetUp } else { backend(err) })?;
        // Accounts made from the command line count too: set-up is only for an empty Parley.
        let (users,): (i64,) =
            sqlx::query_as("select count(*) from users").fetch_one(&mut *tx).await.map_err(backend)?;
        if users > 0 {
            return Err(StoreError::AlreadySetUp);
        }
        let user = insert_row(&mut tx, user).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(user)
    }

    pub(super) async fn find_user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(select_users!("where email = $1"))
            .bind(email)
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(UserRow::into_stored).transpose()
    }

    pub(super) async fn all_users(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> =
            sqlx::query_as(select_users!("where source is null order by created_at, email"))
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
        rows.into_iter().map(|row| row.into_stored().map(|s| s.user)).collect()
    }

    /// Every account's id and e-mail (`import:<source>` for a source's account).
    pub async fn account_names(&self) -> Result<Vec<(Uuid, String)>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("select id, email from users").fetch_all(self.pool()).await.map_err(backend)?;
        rows.into_iter().map(|(id, email)| Ok((super::uuid(&id)?, email))).collect()
    }

    pub(super) async fn count_users(&self, role: Option<Role>) -> Result<i64, StoreError> {
        let (count,): (i64,) = match role {
            None => sqlx::query_as("select count(*) from users").fetch_one(self.pool()).await,
            Some(role) => {
                sqlx::query_as("select count(*) from users where role = $1")
                    .bind(role.as_str())
                    .fetch_one(self.pool())
                    .await
            }
        }
        .map_err(backend)?;
        Ok(count)
    }

    /// Whether `target` is the one active admin left, read under a lock that keeps the answer
    /// true until the transaction ends: SQLite's write lock, taken as the transaction began;
    /// on PostgreSQL a lock on `users` that one such transaction holds at a time (row locks
    /// would not do: two transactions can meet the admins' rows in different orders, as
    /// updates move them, and deadlock). Other writers of `users` wait only while it runs.
    async fn only_active_admin(&self, conn: &mut AnyConnection, target: &str) -> Result<bool, StoreError> {
        if self.engine() == super::Engine::Postgres {
            sqlx::query("lock table users in share row exclusive mode")
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
        }
        let admins: Vec<(String,)> =
            sqlx::query_as(ACTIVE_ADMINS).fetch_all(&mut *conn).await.map_err(backend)?;
        Ok(admins.len() <= 1 && admins.iter().any(|(id,)| id == target))
    }

    /// Changes a role; refuses to take it from the last admin. The admins are read and the
    /// role written under one lock (`only_active_admin`), so two admins demoting each other at
    /// once leave one.
    pub(super) async fn update_role(&self, user_id: Uuid, role: Role) -> Result<User, StoreError> {
        let mut tx = self.write_tx().await?;
        let target = user_id.to_string();
        if role != Role::Admin && self.only_active_admin(&mut tx, &target).await? {
            return Err(StoreError::Conflict {
                field: "role",
                message: "this is the only admin; make someone else admin first".into(),
            });
        }
        let done = sqlx::query("update users set role = $1 where id = $2")
            .bind(role.as_str())
            .bind(&target)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        changed(done, "user")?;
        tx.commit().await.map_err(backend)?;
        self.user_by_id(user_id).await?.ok_or(StoreError::NotFound("user"))
    }

    /// Deactivates (ending every session of the account in the same transaction) or
    /// reactivates an account. The last active admin is refused under the same lock as
    /// `update_role` takes, so two admins deactivating each other at once leave one.
    pub(super) async fn update_active(&self, user_id: Uuid, active: bool) -> Result<User, StoreError> {
        let mut tx = self.write_tx().await?;
        let target = user_id.to_string();
        if !active && self.only_active_admin(&mut tx, &target).await? {
            return Err(StoreError::Conflict {
                field: "user_id",
                message: "this is the only active admin; make someone else admin first".into(),
            });
        }
        // A deactivated account keeps the time it was first deactivated.
        let done = if active {
            sqlx::query("update users set deactivated_at = null where id = $1")
                .bind(&target)
                .execute(&mut *tx)
                .await
        } else {
            sqlx::query("update users set deactivated_at = coalesce(deactivated_at, $1) where id = $2")
                .bind(now_rfc3339())
                .bind(&target)
                .execute(&mut *tx)
                .await
        }
        .map_err(backend)?;
        changed(done, "user")?;
        if !active {
            sqlx::query("delete from sessions where user_id = $1")
                .bind(&target)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        self.user_by_id(user_id).await?.ok_or(StoreError::NotFound("user"))
    }

    /// Sets a password hash; `one_time` makes the account choose its own next. Every session
    /// of the account ends in the same transaction, except `keep` (the token hash of the
    /// session that changed its own password).
    pub(super) async fn update_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        one_time: bool,
        keep: Option<&str>,
    ) -> Result<User, StoreError> {
        let mut tx = self.write_tx().await?;
        let target = user_id.to_string();
        let done =
            sqlx::query("update users set password_hash = $1, must_change_password = $2 where id = $3")
                .bind(password_hash)
                .bind(i64::from(one_time))
                .bind(&target)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        changed(done, "user")?;
        sqlx::query("delete from sessions where user_id = $1 and token_hash <> $2")
            .bind(&target)
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        self.user_by_id(user_id).await?.ok_or(StoreError::NotFound("user"))
    }

    /// Demonstrations count once submitted. Rankings and feedback do not exist yet: they
    /// stay zero until the issues that add them extend this query.
    pub(super) async fn counts_for(&self, user_id: Uuid) -> Result<UserCounts, StoreError> {
        let (demonstrations,): (i64,) = sqlx::query_as(
            "select count(*) from conversations \
             where owner_id = $1 and kind = 'demonstration' and status <> 'draft'",
        )
        .bind(user_id.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(backend)?;
        Ok(UserCounts { demonstrations, ..UserCounts::default() })
    }
}

/// Inserts one account and returns it as stored.
async fn insert_row(conn: &mut AnyConnection, user: &NewUser) -> Result<User, sqlx::Error> {
    let created_at = now_rfc3339();
    sqlx::query("insert into users (id, email, password_hash, role, created_at) values ($1, $2, $3, $4, $5)")
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(&created_at)
        .execute(conn)
        .await?;
    Ok(User {
        id: user.id,
        email: user.email.clone(),
        role: user.role,
        created_at,
        deactivated_at: None,
        must_change_password: false,
    })
}

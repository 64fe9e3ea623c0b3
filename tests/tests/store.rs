//! The sqlx store through the app's `Store` port, on SQLite and on PostgreSQL.

mod common;
use app::domain::Role;
use app::ssr::clock::{now_rfc3339, rfc3339_in};
use app::ssr::{NewUser, SessionRecord, Store, StoreError};
use common::{Engine, TestDb};
use parley::store::SqlStore;
use uuid::Uuid;

async fn open(engine: Engine) -> (SqlStore, TestDb) {
    let db = TestDb::new(engine).await;
    let store = SqlStore::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, db)
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser { id: Uuid::new_v4(), email: email.into(), password_hash: "hash".into(), role }
}

async fn create_user_is_idempotent_per_request_id(engine: Engine) {
    let (store, _db) = open(engine).await;
    let user = new_user("ada@example.org", Role::Trainer);
    let id = user.id;
    let first = store.create_user(user).await.unwrap();
    let retry = store
        .create_user(NewUser {
            id,
            email: "ada@example.org".into(),
            password_hash: "other".into(),
            role: Role::Admin,
        })
        .await
        .unwrap();
    assert_eq!(first, retry, "a retry returns what the first submit stored");
    assert_eq!(store.user_count().await.unwrap(), 1);
    let clash = store.create_user(new_user("ada@example.org", Role::Trainer)).await;
    assert!(matches!(clash, Err(StoreError::DuplicateEmail)));
}
on_both_engines!(create_user_is_idempotent_per_request_id);

async fn first_admin_only_while_there_are_no_users(engine: Engine) {
    let (store, _db) = open(engine).await;
    let admin = new_user("root@example.org", Role::Admin);
    let id = admin.id;
    store.create_first_admin(admin).await.unwrap();
    let replay = store
        .create_first_admin(NewUser {
            id,
            email: "root@example.org".into(),
            password_hash: "h".into(),
            role: Role::Admin,
        })
        .await;
    assert!(replay.is_ok(), "the same request again is answered, not refused");
    let second = store.create_first_admin(new_user("eve@example.org", Role::Admin)).await;
    assert!(matches!(second, Err(StoreError::AlreadySetUp)));
    assert_eq!(store.admin_count().await.unwrap(), 1);
}
on_both_engines!(first_admin_only_while_there_are_no_users);

async fn sessions_expire_and_can_be_deleted(engine: Engine) {
    let (store, _db) = open(engine).await;
    let user = store.create_user(new_user("ada@example.org", Role::Reviewer)).await.unwrap();
    for (hash, expires_at) in [("live", rfc3339_in(3600)), ("stale", rfc3339_in(-1))] {
        store
            .create_session(SessionRecord { token_hash: hash.into(), user_id: user.id, expires_at })
            .await
            .unwrap();
    }
    let now = now_rfc3339();
    assert_eq!(store.session_user("live", &now).await.unwrap(), Some(user.clone()));
    assert_eq!(store.session_user("stale", &now).await.unwrap(), None);
    assert_eq!(store.session_user("unknown", &now).await.unwrap(), None);
    store.delete_session("live").await.unwrap();
    assert_eq!(store.session_user("live", &now).await.unwrap(), None);
}
on_both_engines!(sessions_expire_and_can_be_deleted);

async fn login_failures_are_counted_within_the_window(engine: Engine) {
    let (store, _db) = open(engine).await;
    let key = "email:ada@example.org";
    store.record_login_failure(key, &rfc3339_in(-3600)).await.unwrap();
    store.record_login_failure(key, &rfc3339_in(-60)).await.unwrap();
    store.record_login_failure(key, &now_rfc3339()).await.unwrap();
    let (count, oldest) = store.login_failures_since(key, &rfc3339_in(-900)).await.unwrap();
    assert_eq!(count, 2);
    assert!(oldest.is_some_and(|at| at > rfc3339_in(-900)));
    assert_eq!(store.login_failures_since("email:other", &rfc3339_in(-900)).await.unwrap(), (0, None));
    store.clear_login_failures(key).await.unwrap();
    assert_eq!(store.login_failures_since(key, &rfc3339_in(-7200)).await.unwrap().0, 0);
}
on_both_engines!(login_failures_are_counted_within_the_window);

async fn roles_change_and_unknown_users_are_not_found(engine: Engine) {
    let (store, _db) = open(engine).await;
    let user = store.create_user(new_user("ada@example.org", Role::Trainer)).await.unwrap();
    let promoted = store.set_role(user.id, Role::Admin).await.unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(store.list_users().await.unwrap(), vec![promoted]);
    assert!(matches!(store.set_role(Uuid::new_v4(), Role::Admin).await, Err(StoreError::NotFound("user"))));
}
on_both_engines!(roles_change_and_unknown_users_are_not_found);

async fn migrating_twice_changes_nothing(engine: Engine) {
    let (store, _db) = open(engine).await;
    store.create_user(new_user("ada@example.org", Role::Trainer)).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.user_count().await.unwrap(), 1);
}
on_both_engines!(migrating_twice_changes_nothing);

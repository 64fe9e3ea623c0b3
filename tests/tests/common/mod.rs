//! Helpers shared by the end-to-end tests: fresh databases on both engines, and the real
//! `parley` binary started on port 0.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database that exists only for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub dir: PathBuf,
    postgres_name: Option<String>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("PARLEY_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDb {
    pub async fn new(engine: Engine) -> TestDb {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("parley-test-{id}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        match engine {
            Engine::Sqlite => TestDb {
                url: format!("sqlite://{}?mode=rwc", dir.join("parley.db").display()),
                dir,
                postgres_name: None,
            },
            Engine::Postgres => {
                use sqlx::Connection;
                let name = format!("parley_test_{id}");
                sqlx::any::install_default_drivers();
                let admin = postgres_admin_url();
                let mut conn = sqlx::AnyConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|err| panic!("PostgreSQL at {admin} is needed for these tests: {err}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin);
                TestDb { url: format!("{base}/{name}"), dir, postgres_name: Some(name) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = &self.postgres_name {
            // Best effort: the server process is gone by now, so nothing holds the database.
            let _ = Command::new("psql")
                .args([
                    &postgres_admin_url(),
                    "-q",
                    "-c",
                    &format!("drop database if exists {name} with (force)"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn parley_bin() -> PathBuf {
    if let Ok(path) = std::env::var("PARLEY_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "../target".into());
    let path = PathBuf::from(target).join("release/parley");
    assert!(path.exists(), "{} not found: build it with `make build` or set PARLEY_BIN", path.display());
    path
}

/// The real `parley serve`, on a free port, with its own database.
pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    child: Child,
    args: Vec<String>,
}

/// `parley serve` on a free port; its address once it listens.
async fn start(db: &TestDb, args: &[String]) -> (String, Child) {
    let mut child = Command::new(parley_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &db.url])
        .arg("--data-dir")
        .arg(&db.dir)
        .args(args)
        .env("RUST_LOG", "error")
        .env_remove("PARLEY_MODEL")
        .env_remove("PARLEY_ENGINE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start parley");
    let stdout = child.stdout.take().expect("stdout");
    let base = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        lines
            .find_map(|line| line.ok()?.strip_prefix("Parley listening on ").map(str::to_string))
            .expect("parley printed no listening address")
    })
    .await
    .expect("read address");
    (base, child)
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> TestApp {
        TestApp::spawn_with(engine, &[]).await
    }

    /// Starts `parley serve` with more arguments (a model, a remote engine).
    pub async fn spawn_with(engine: Engine, args: &[&str]) -> TestApp {
        let db = TestDb::new(engine).await;
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (base, child) = start(&db, &args).await;
        TestApp { base, db, child, args }
    }

    /// Kills the server with SIGKILL (no shutdown, nothing flushed) and starts it again on
    /// the same database, with the same arguments, on a new port.
    pub async fn kill_and_restart(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
        let (base, child) = start(&self.db, &self.args).await;
        self.base = base;
        self.child = child;
    }

    pub async fn model_ready(&self) -> serde_json::Value {
        for _ in 0..200 {
            let health: serde_json::Value =
                reqwest::get(self.url("/healthz")).await.expect("healthz").json().await.expect("json");
            if health["ready"] == true {
                return health;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the model did not become ready");
    }

    /// An API key made by a fresh first admin, for the `/v1` routes.
    pub async fn api_key(&self) -> String {
        let admin = self.first_admin("admin@example.org", "correct horse battery").await;
        self.api_key_for(&admin).await
    }

    /// An API key made by the given admin.
    pub async fn api_key_for(&self, admin: &reqwest::Client) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let key = self.call_ok(admin, "keys/create", &[("request_id", &id), ("name", "tests")]).await;
        key["secret"].as_str().expect("secret").to_string()
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// A connection of the test's own to the server's database, to read what was stored.
    pub async fn connect_db(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.db.url).await.expect("connect to the test database")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Calls a server function the way a browser form does.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        function: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client.post(self.url(&format!("/api/{function}"))).form(form).send().await.expect("request")
    }

    /// Calls a server function that must succeed; returns its JSON result.
    pub async fn call_ok(
        &self,
        client: &reqwest::Client,
        function: &str,
        form: &[(&str, &str)],
    ) -> serde_json::Value {
        let reply = self.call(client, function, form).await;
        let status = reply.status();
        let text = reply.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{function}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{function}: not JSON: {text}"))
    }

    /// Submits the first-admin form.
    pub async fn create_first_admin(
        &self,
        client: &reqwest::Client,
        request_id: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let form = [("request_id", request_id), ("email", email), ("password", password)];
        self.call(client, "auth/create_first_admin", &form).await
    }

    /// Creates the first admin and returns a client signed in as them.
    pub async fn first_admin(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.client();
        let id = uuid::Uuid::new_v4().to_string();
        let form = [("request_id", id.as_str()), ("email", email), ("password", password)];
        self.call_ok(&client, "auth/create_first_admin", &form).await;
        client
    }

    /// A client signed in with an existing account.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.client();
        let form = [("email", email), ("password", password)];
        self.call_ok(&client, "auth/login", &form).await;
        client
    }

    /// As the given admin, creates an account; then returns a client signed in as it.
    pub async fn user(&self, admin: &reqwest::Client, email: &str, role: &str) -> reqwest::Client {
        let id = uuid::Uuid::new_v4().to_string();
        let password = "a long enough passphrase";
        let form = [("request_id", id.as_str()), ("email", email), ("password", password), ("role", role)];
        self.call_ok(admin, "users/create", &form).await;
        self.sign_in(email, password).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ids of a rank task's completions, in the order shown.
pub fn shown_ids(task: &serde_json::Value) -> Vec<String> {
    task["completions"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

/// The JSON error body of a failed call.
pub async fn error_body(reply: reqwest::Response) -> serde_json::Value {
    let text = reply.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is not JSON: {text}"))
}

/// Runs one async test body against SQLite and against PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_engines {
    ($scenario:ident) => {
        mod $scenario {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(common::Engine::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$scenario(common::Engine::Postgres).await
            }
        }
    };
}

/// The tiny generated GGUF (random weights, real tokenizer), written once per test binary.
pub fn tiny_model() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("parley-tiny-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("tiny.gguf");
        let status = Command::new(parley_bin())
            .args(["model", "tiny", "--out"])
            .arg(&path)
            .status()
            .expect("run parley");
        assert!(status.success(), "parley model tiny failed");
        path
    })
    .clone()
}

/// A chat of `turns` user turns, each answered by the model (at most 8 tokens); the
/// chat's id and the replies' ids. The replies have a fixed seed: the tiny test model now
/// and then writes 8 tokens of whitespace, which the server refuses ("the model wrote
/// nothing"), and with a random seed that failed a test once in a while.
pub async fn chat_with_replies(
    app: &TestApp,
    client: &reqwest::Client,
    turns: usize,
) -> (String, Vec<String>) {
    let id = || uuid::Uuid::new_v4().to_string();
    let chat = id();
    let form = [("request_id", chat.as_str()), ("kind", "chat"), ("max_tokens", "8")];
    app.call_ok(client, "conversations/create", &form).await;
    let mut parent: Option<String> = None;
    let mut replies = vec![];
    for turn in 0..turns {
        let question = id();
        let text = format!("Question number {turn}?");
        let mut form = vec![
            ("conversation_id", chat.as_str()),
            ("request_id", question.as_str()),
            ("role", "user"),
            ("text", text.as_str()),
        ];
        if let Some(parent) = &parent {
            form.push(("parent_id", parent.as_str()));
        }
        app.call_ok(client, "conversations/add_message", &form).await;
        let reply = id();
        let url = app.url(&format!(
            "/api/conversations/{chat}/generate?purpose=reply&parent={question}&request_id={reply}&seed=7"
        ));
        let body = client.get(url).send().await.expect("generate").text().await.expect("body");
        assert!(body.contains("event: saved"), "{body}");
        parent = Some(reply.clone());
        replies.push(reply);
    }
    (chat, replies)
}

/// Waits until the background sampler has written every comparison of the newest batch;
/// that batch's progress.
pub async fn sampled(app: &TestApp, admin: &reqwest::Client) -> serde_json::Value {
    for _ in 0..600 {
        let batches = app.call_ok(admin, "rank/batches", &[]).await;
        if batches[0]["pending"] == 0 {
            return batches[0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the sampler did not finish the batch");
}

/// The 250 Open-Assistant prompts of the shared data, in the file's order.
pub fn oasst_prompts() -> Vec<String> {
    std::fs::read_to_string(shared_data("oasst-prompt-lottery-en-250.jsonl"))
        .expect("read")
        .lines()
        .map(|line| serde_json::from_str::<String>(line).expect("a JSON string a line"))
        .collect()
}

/// A file of the shared data: `$PARLEY_SHARED_DATA`, else `../shared/data` beside the
/// checkout, else the workplace's copy.
pub fn shared_data(file: &str) -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let candidates: Vec<PathBuf> = std::env::var("PARLEY_SHARED_DATA")
        .map(PathBuf::from)
        .into_iter()
        .chain([beside, PathBuf::from("/work/shared/data")])
        .collect();
    candidates
        .iter()
        .map(|dir| dir.join(file))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{file} not found in {candidates:?}; set PARLEY_SHARED_DATA"))
}

/// Every row of every table but the sign-in bookkeeping (sessions, failed sign-ins), each
/// row as text, sorted: two snapshots are equal when nothing was written.
pub async fn snapshot(app: &TestApp) -> std::collections::BTreeMap<String, Vec<String>> {
    use sqlx::{Column, Row};
    let mut db = app.connect_db().await;
    let tables = if app.db.url.starts_with("postgres") {
        "select table_name::text from information_schema.tables where table_schema = current_schema() \
         and table_type = 'BASE TABLE'"
    } else {
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
    };
    let tables: Vec<(String,)> = sqlx::query_as(tables).fetch_all(&mut db).await.expect("tables");
    let mut all = std::collections::BTreeMap::new();
    for (table,) in tables {
        if matches!(table.as_str(), "sessions" | "login_failures" | "_sqlx_migrations") {
            continue;
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("select * from {table}")))
            .fetch_all(&mut db)
            .await
            .expect("rows");
        let mut texts: Vec<String> = rows
            .iter()
            .map(|row| {
                (0..row.columns().len())
                    .map(|i| {
                        let name = row.columns()[i].name().to_string();
                        let value = row
                            .try_get::<Option<String>, _>(i)
                            .map(|v| format!("{v:?}"))
                            .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                            .or_else(|_| row.try_get::<Option<f64>, _>(i).map(|v| format!("{v:?}")))
                            .or_else(|_| row.try_get::<Option<bool>, _>(i).map(|v| format!("{v:?}")))
                            .or_else(|_| row.try_get::<Option<Vec<u8>>, _>(i).map(|v| format!("{v:?}")))
                            .unwrap_or_else(|_| "?".into());
                        format!("{name}={value}")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        texts.sort();
        all.insert(table, texts);
    }
    all
}

/// The tables whose rows differ between two snapshots, with a row that differs.
pub fn changed(
    before: &std::collections::BTreeMap<String, Vec<String>>,
    after: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let tables: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    tables
        .into_iter()
        .filter_map(|table| {
            let (a, b) = (before.get(table), after.get(table));
            (a != b).then(|| {
                let empty = vec![];
                let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
                let new =
                    b.iter().find(|row| !a.contains(row)).or_else(|| a.iter().find(|row| !b.contains(row)));
                format!("{table}: {} -> {} rows, e.g. {}", a.len(), b.len(), new.map_or("", |r| r.as_str()))
            })
        })
        .collect()
}

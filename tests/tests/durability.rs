//! kill -9 under load: trainers submit rankings and demonstration turns while the server is
//! killed without warning (SIGKILL: nothing flushed, no shutdown). Started again on the same
//! database, every acknowledged submission is there exactly once, and each one that was in
//! flight, sent again with its request id, is then stored exactly once.
//! `PARLEY_DURABILITY_TRIALS` kills per engine (2 by default; `make test-durability
//! TRIALS=20` runs more). A killed process is what this proves; a power cut also needs the
//! disk to honour fsync, which SQLite (synchronous FULL in WAL mode) and PostgreSQL ask for.

mod common;
use common::{Engine, TestApp, sampled, tiny_model};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const PASSWORD: &str = "correct horse battery";
const TRAINERS: usize = 8;

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A request a worker sent: what it was, and whether the server acknowledged it.
#[derive(Clone)]
enum Sent {
    Ranking { body: Value },
    Turn { form: Vec<(String, String)> },
}

impl Sent {
    fn id(&self) -> String {
        match self {
            Sent::Ranking { body } => body["request_id"].as_str().unwrap().to_string(),
            Sent::Turn { form } => form.iter().find(|(k, _)| k == "request_id").unwrap().1.clone(),
        }
    }
    fn table(&self) -> &'static str {
        match self {
            Sent::Ranking { .. } => "rankings",
            Sent::Turn { .. } => "messages",
        }
    }
    async fn send(
        &self,
        app_base: &str,
        client: &reqwest::Client,
    ) -> Result<reqwest::Response, reqwest::Error> {
        match self {
            Sent::Ranking { body } => {
                client.post(format!("{app_base}/api/rank/submit")).json(body).send().await
            }
            Sent::Turn { form } => {
                client.post(format!("{app_base}/api/conversations/add_message")).form(form).send().await
            }
        }
    }
}

#[derive(Default)]
struct Log {
    acknowledged: Vec<Sent>,
    in_flight: Vec<(usize, Sent)>,
}

/// One trainer's loop until the server goes away: take a comparison and rank it; add a turn
/// to their demonstration. Each request is logged before it is sent and marked when
/// answered 200.
async fn work(base: String, client: reqwest::Client, who: usize, demo: String, log: Arc<Mutex<Log>>) {
    let mut parent: Option<String> = None;
    let mut turn = 0usize;
    loop {
        let no_fields: [(&str, &str); 0] = [];
        let task = client.post(format!("{base}/api/rank/task")).form(&no_fields).send().await;
        let task: Value = match task {
            Ok(reply) if reply.status() == 200 => match reply.json().await {
                Ok(task) => task,
                Err(_) => return,
            },
            _ => return,
        };
        let mut sends = vec![];
        if let Some(comparison) = task["comparison_id"].as_str() {
            let shown = common::shown_ids(&task);
            let ranking: Vec<Vec<&String>> = shown.iter().rev().map(|c| vec![c]).collect();
            sends.push(Sent::Ranking {
                body: json!({"request_id": id(), "comparison_id": comparison, "ranking": ranking, "shown": shown}),
            });
        }
        let role = if turn % 2 == 0 { "user" } else { "assistant" };
        let mut form = vec![
            ("conversation_id".to_string(), demo.clone()),
            ("request_id".to_string(), id()),
            ("role".to_string(), role.to_string()),
            ("text".to_string(), format!("Turn {turn} of trainer {who}.")),
        ];
        if let Some(parent) = &parent {
            form.push(("parent_id".to_string(), parent.clone()));
        }
        sends.push(Sent::Turn { form });
        for sent in sends {
            log.lock().unwrap().in_flight.push((who, sent.clone()));
            let answered = match sent.send(&base, &client).await {
                Ok(reply) => reply.status() == 200 && reply.bytes().await.is_ok(),
                Err(_) => false,
            };
            if !answered {
                return;
            }
            let mut log = log.lock().unwrap();
            log.in_flight.retain(|(_, s)| s.id() != sent.id());
            if let Sent::Turn { .. } = sent {
                parent = Some(sent.id());
                turn += 1;
            }
            log.acknowledged.push(sent);
        }
    }
}

async fn stored(db: &mut sqlx::AnyConnection, table: &str, id: &str) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("select count(*) from {table} where id = $1")))
            .bind(id)
            .fetch_one(db)
            .await
            .unwrap();
    n
}

async fn acknowledged_work_survives_kill_9(engine: Engine) {
    let trials: usize =
        std::env::var("PARLEY_DURABILITY_TRIALS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let model = tiny_model();
    let mut app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    // Enough comparisons that the trainers never run out: imported prompts, two
    // completions each.
    let comparisons = 150 * trials.max(1);
    let prompts: String = (0..comparisons).map(|i| format!("\"Question {i}: name a colour.\"\n")).collect();
    let url = app.url(&format!("/api/datasets/import?format=prompts&request_id={}", id()));
    assert_eq!(admin.post(url).body(prompts).send().await.unwrap().status(), 200);
    let size = comparisons.to_string();
    let batch = [
        ("request_id", id()),
        ("size", size),
        ("k", "2".into()),
        ("overlap", "1".into()),
        ("from_prompts", "true".into()),
        ("temperature", "0.9".into()),
        ("max_tokens", "4".into()),
    ];
    let batch: Vec<(&str, &str)> = batch.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call_ok(&admin, "rank/create_batch", &batch).await;
    sampled(&app, &admin).await;
    let mut trainers = vec![];
    let mut demos = vec![];
    for i in 0..TRAINERS {
        let trainer = app.user(&admin, &format!("trainer{i}@example.org"), "trainer").await;
        let demo = id();
        app.call_ok(&trainer, "conversations/create", &[("request_id", &demo), ("kind", "demonstration")])
            .await;
        trainers.push(trainer);
        demos.push(demo);
    }

    let mut total = (0, 0);
    for trial in 0..trials {
        let log = Arc::new(Mutex::new(Log::default()));
        let workers: Vec<_> = (0..TRAINERS)
            .map(|i| {
                tokio::spawn(work(app.base.clone(), trainers[i].clone(), i, demos[i].clone(), log.clone()))
            })
            .collect();
        // Killed at a different moment each trial, mid-load.
        tokio::time::sleep(std::time::Duration::from_millis(300 + (trial as u64 * 377) % 1200)).await;
        app.kill_and_restart().await;
        for worker in workers {
            let _ = worker.await;
        }
        let log = std::mem::take(&mut *log.lock().unwrap());
        assert!(!log.acknowledged.is_empty(), "trial {trial}: the load had started");
        let mut db = app.connect_db().await;
        for sent in &log.acknowledged {
            assert_eq!(
                stored(&mut db, sent.table(), &sent.id()).await,
                1,
                "trial {trial}: acknowledged {} {}",
                sent.table(),
                sent.id()
            );
        }
        // What was in flight is sent again, as a client that got no answer does: stored once.
        for (who, sent) in &log.in_flight {
            let reply = sent.send(&app.base, &trainers[*who]).await.expect("the restarted server answers");
            let status = reply.status();
            let body = reply.text().await.unwrap_or_default();
            assert_eq!(status, 200, "trial {trial}: retried {} {}: {body}", sent.table(), sent.id());
            assert_eq!(
                stored(&mut db, sent.table(), &sent.id()).await,
                1,
                "trial {trial}: retried {}",
                sent.id()
            );
        }
        total.0 += log.acknowledged.len();
        total.1 += log.in_flight.len();
    }
    eprintln!(
        "{engine:?}: {trials} kills, {} acknowledged and {} in-flight submissions, each stored once",
        total.0, total.1
    );
}
on_both_engines!(acknowledged_work_survives_kill_9);

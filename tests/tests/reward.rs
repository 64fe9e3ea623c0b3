//! `parley reward` on the tiny generated model: a head trained on imported rankings learns
//! the preference the rankings hold (held out by conversation), beside a random-label
//! control; its files name the base model and the head by SHA-256; `parley reward score`
//! loads it back and scores pairs the same way every time; a head is refused on another
//! base model, and a bad line is named. Runs started over HTTP (as the Admin -> Reward model
//! page starts them) train in the background on the real model, once per id however often
//! the start is sent, one at a time, cancelled when asked; only admins reach them.

mod common;
use common::{Engine, TestApp, TestDb, parley_bin, tiny_model};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `parley <args>` against the database: (success, stdout, stderr).
fn parley(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(parley_bin())
        .args(args)
        .args(["--database-url", &db.url])
        .env("RUST_LOG", "error")
        .output()
        .expect("run parley");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn sha256(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A figure from the table `parley reward train` prints, as a share.
fn figure(text: &str, measure: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(measure)).unwrap_or_else(|| panic!("{measure}: {text}"));
    let value = line[measure.len()..].split_whitespace().next().unwrap();
    value.trim_end_matches('%').parse::<f64>().unwrap() / 100.0
}

fn score(base: &Path, head: &Path, input: &Path) -> (bool, Vec<Value>, String) {
    let out = Command::new(parley_bin())
        .args(["reward", "score", "--model"])
        .arg(head)
        .arg("--base")
        .arg(base)
        .arg(input)
        .env("RUST_LOG", "error")
        .output()
        .expect("run parley");
    let lines =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out.status.success(), lines, String::from_utf8_lossy(&out.stderr).to_string())
}

#[tokio::test]
async fn a_head_learns_what_the_rankings_hold_and_scores_it_back() {
    let db = TestDb::new(Engine::Sqlite).await;
    let mut add = Command::new(parley_bin())
        .args(["user", "add", "--email", "admin@example.org", "--role", "admin", "--password-stdin"])
        .args(["--database-url", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "correct horse battery").unwrap();
    assert!(add.wait().unwrap().success());
    // Every row prefers the long, polite reply to the curt one.
    let rows: String = (0..160)
        .map(|i| {
            json!({
                "prompt": format!("Question {i}: could you tell me about topic {}?", i * 7 % 13),
                "chosen": "Of course. Here is a careful, friendly answer with the details you asked for.",
                "rejected": "No.",
            })
            .to_string()
                + "\n"
        })
        .collect();
    let file = db.dir.join("prefs.jsonl");
    std::fs::write(&file, rows).unwrap();
    let (ok, said, err) = parley(&db, &["import", file.to_str().unwrap(), "--source", "prefs"]);
    assert!(ok && said.contains("160 comparisons with 160 rankings"), "{said}{err}");

    let model = tiny_model();
    let out = db.dir.join("head");
    let (ok, said, err) = parley(
        &db,
        &[
            "reward",
            "train",
            "--model",
            model.to_str().unwrap(),
            "--source",
            "prefs",
            "--layers",
            "1,2",
            "--split-seed",
            "3",
            "--test-ratio",
            "0.25",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{said}{err}");
    assert!(figure(&said, "held-out pairwise accuracy") >= 0.95, "{said}");
    // The control is printed (every pair here prefers the same reply, so which way labels
    // flipped at random lean decides it: the unit tests hold it to one half on varied data).
    assert!((0.0..=1.0).contains(&figure(&said, "random-label control")), "{said}");
    let config: Value = serde_json::from_slice(&std::fs::read(out.join("reward.json")).unwrap()).unwrap();
    assert_eq!(config["base_model_sha256"], sha256(&model));
    assert_eq!(config["head_sha256"], sha256(&out.join("head.safetensors")));
    assert_eq!(config["pairs_train"].as_u64().unwrap() + config["pairs_test"].as_u64().unwrap(), 160);
    assert!([1, 2].contains(&config["feature_layer"].as_u64().unwrap()), "{config}");

    // Scored back: the preferred reply above the other for unseen prompts, the same twice.
    let pairs = db.dir.join("pairs.jsonl");
    let lines: String = ["What is a good name for a cat?", "Explain rain to a child."]
        .iter()
        .flat_map(|prompt| {
            [
                json!({"prompt": prompt, "completion": "Of course. Here is a careful, friendly answer with the details you asked for."}),
                json!({"prompt": [{"role": "user", "content": prompt}], "completion": {"role": "assistant", "content": "No."}}),
            ]
        })
        .map(|v| v.to_string() + "\n")
        .collect();
    std::fs::write(&pairs, lines).unwrap();
    let (ok, scored, err) = score(&model, &out, &pairs);
    assert!(ok, "{err}");
    assert_eq!(scored.len(), 4);
    for pair in scored.chunks(2) {
        assert!(pair[0]["score"].as_f64().unwrap() > pair[1]["score"].as_f64().unwrap(), "{pair:?}");
    }
    assert_eq!(score(&model, &out, &pairs).1, scored, "the same scores every time");

    // Another base model (other weights) is refused; a bad line is named.
    let other = db.dir.join("other.gguf");
    let made =
        Command::new(parley_bin()).args(["model", "tiny", "--variant", "1", "--out"]).arg(&other).status();
    assert!(made.unwrap().success());
    let (ok, _, err) = score(&other, &out, &pairs);
    assert!(!ok && err.contains("the head was trained on"), "{err}");
    std::fs::write(&pairs, "{\"prompt\": \"Hi\"}\n").unwrap();
    let (ok, _, err) = score(&model, &out, &pairs);
    assert!(!ok && err.contains("line 1: completion: missing"), "{err}");
    // Several splits, the features read once: each split's kept head, and the mean.
    let (ok, said, err) = parley(
        &db,
        &[
            "reward",
            "train",
            "--model",
            model.to_str().unwrap(),
            "--source",
            "prefs",
            "--layers",
            "1",
            "--splits",
            "3",
        ],
    );
    assert!(ok, "{said}{err}");
    assert!(said.contains("3 splits:") && said.contains("kept head, mean of 3 splits"), "{said}");
    assert_eq!(said.matches("features: ").count(), 10, "features read once, reported by tenths: {said}");
    // A selection with nothing on one side of the split says so.
    let (ok, said, err) =
        parley(&db, &["reward", "train", "--model", model.to_str().unwrap(), "--source", "nothing"]);
    assert!(!ok && err.contains("0 pairs in train and 0 in test"), "{said}{err}");
}

/// The real model, fetched by `make model` (the tests run after it).
const MODEL: &str = "../models/SmolLM2-135M-Instruct.Q4_1.gguf";

async fn run_of(app: &TestApp, admin: &reqwest::Client, id: &str) -> Value {
    let runs = app.call_ok(admin, "reward/runs", &[]).await;
    runs.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap_or_else(|| panic!("{id}: {runs}"))
}

/// Waits for the run to leave `running` (at most three minutes): its last state.
async fn finished(app: &TestApp, admin: &reqwest::Client, id: &str) -> Value {
    for _ in 0..360 {
        let run = run_of(app, admin, id).await;
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("run {id} still running");
}

async fn runs_train_in_the_background_once_and_stop_when_asked(engine: Engine) {
    assert!(Path::new(MODEL).exists(), "{MODEL} missing: run `make model`");
    let app = TestApp::spawn_with(engine, &["--model", MODEL]).await;
    let admin = app.first_admin("admin@example.org", "correct horse battery").await;
    let rows: String = (0..120)
        .map(|i| {
            json!({"prompt": format!("Tell me about topic {i}."), "chosen": "Gladly: here is a short, kind answer.", "rejected": "No."})
                .to_string()
                + "\n"
        })
        .collect();
    let url = app.url(&format!("/api/datasets/import?request_id={}&source=prefs", uuid::Uuid::new_v4()));
    assert_eq!(admin.post(url).body(rows).send().await.unwrap().status(), 200);
    let trainer = app.user(&admin, "ada@example.org", "trainer").await;
    assert_eq!(app.call(&trainer, "reward/runs", &[]).await.status(), 403);
    let id = uuid::Uuid::new_v4().to_string();
    let form = [
        ("request_id", id.as_str()),
        ("source", "prefs"),
        ("split_seed", "3"),
        ("test_ratio", "0.25"),
        ("layers", "10,30"),
        ("limit", "40"),
    ];
    assert_eq!(app.call(&trainer, "reward/start", &form).await.status(), 403);
    let bad = [("request_id", id.as_str()), ("split_seed", "3"), ("test_ratio", "0.25"), ("layers", "0,x")];
    let refused = app.call(&admin, "reward/start", &bad).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("layers"));
    // Twenty tabs send the same start at once: one run.
    let starts = (0..20).map(|_| app.call(&admin, "reward/start", &form));
    for reply in futures::future::join_all(starts).await {
        assert_eq!(reply.status(), 200);
    }
    let runs = app.call_ok(&admin, "reward/runs", &[]).await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    let run = finished(&app, &admin, &id).await;
    assert_eq!(run["status"], "done", "{run}");
    let result = &run["result"];
    assert_eq!(
        (result["comparisons"].as_u64(), result["heads"].as_array().unwrap().len()),
        (Some(40), 4),
        "{result}"
    );
    for head in result["heads"].as_array().unwrap().iter().chain([&result["control"]]) {
        let (low, accuracy, high) = (
            head["low"].as_f64().unwrap(),
            head["accuracy"].as_f64().unwrap(),
            head["high"].as_f64().unwrap(),
        );
        assert!(0.0 <= low && low <= accuracy && accuracy <= high && high <= 1.0, "{head}");
    }
    let saved = app.db.dir.join("reward").join(&id).join("head.safetensors");
    assert_eq!(result["head_sha256"], sha256(&saved));
    assert_eq!(result["base_model_sha256"], sha256(Path::new(MODEL)));
    // The export's manifest carries the figures of the latest model trained on its source.
    let url = app.url("/api/datasets/export?format=manifest&source=prefs&split_seed=3&test_ratio=0.25");
    let manifest: Value = admin.get(url).send().await.unwrap().json().await.unwrap();
    let reward = &manifest["reward_model"];
    assert_eq!(
        (reward["run_id"].as_str(), reward["head_sha256"].clone()),
        (Some(id.as_str()), result["head_sha256"].clone()),
        "{manifest}"
    );
    let kept = &result["heads"][result["kept"].as_u64().unwrap() as usize];
    assert_eq!((&reward["feature_layer"], &reward["feature_reading"]), (&kept["layer"], &kept["reading"]));
    assert_eq!((&reward["accuracy"], &reward["interval"][0]), (&kept["accuracy"], &kept["low"]));
    assert_eq!(reward["pairs_test"], result["pairs_test"]);
    let other: Value = admin
        .get(app.url("/api/datasets/export?format=manifest&source=elsewhere"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(other.get("reward_model").is_none(), "{other}");

    // A second run (all 120 comparisons); a third while it runs is refused; cancel stops it.
    let second = uuid::Uuid::new_v4().to_string();
    let form2 =
        [("request_id", second.as_str()), ("split_seed", "3"), ("test_ratio", "0.25"), ("layers", "30")];
    app.call_ok(&admin, "reward/start", &form2).await;
    let third = uuid::Uuid::new_v4().to_string();
    let form3 =
        [("request_id", third.as_str()), ("split_seed", "3"), ("test_ratio", "0.25"), ("layers", "30")];
    let busy = app.call(&admin, "reward/start", &form3).await;
    assert_eq!(busy.status(), 409);
    assert!(busy.text().await.unwrap().contains("a run is under way"));
    assert_eq!(app.call(&trainer, "reward/cancel", &[("id", second.as_str())]).await.status(), 403);
    app.call_ok(&admin, "reward/cancel", &[("id", second.as_str())]).await;
    let run = finished(&app, &admin, &second).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert!(run["result"].is_null());
}
on_both_engines!(runs_train_in_the_background_once_and_stop_when_asked);

/// Preference rows that all prefer the long, polite reply; then comparisons of the same
/// kind (their prompts numbered among the others') ranked by three trainers, two of whom
/// agree and a third who always ranks the other way (K-wise rows, one per trainer).
fn polite_rows(single: usize, shared: usize) -> String {
    let polite = "Of course. Here is a careful, friendly answer with the details you asked for.";
    let mut rows: Vec<Value> = (0..single)
        .map(|i| json!({"prompt": format!("Question {}: could you tell me about topic {}?", 2 * i, i * 7 % 13), "chosen": polite, "rejected": "No."}))
        .collect();
    for i in 0..shared {
        for (trainer, ranking) in [("amy", [0, 1]), ("bob", [0, 1]), ("cid", [1, 0])] {
            rows.push(json!({
                "prompt": format!("Question {}: could you tell me about topic {}?", 2 * i + 1, i % 13),
                "completions": [polite, "No."],
                "ranking": ranking,
                "trainer": trainer,
            }));
        }
    }
    rows.iter().map(|r| r.to_string() + "\n").collect()
}

async fn doubtful_rankings_wait_for_review_and_set_aside_ones_leave_the_exports(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", "correct horse battery").await;
    // Two imports of one source: the K-wise file's rows are not pairs of HH form.
    let (single, shared): (String, String) = {
        let all = polite_rows(160, 20);
        let lines: Vec<&str> = all.lines().collect();
        (lines[..160].join("\n"), lines[160..].join("\n"))
    };
    for body in [single, shared] {
        let url = app.url(&format!("/api/datasets/import?request_id={}&source=prefs", uuid::Uuid::new_v4()));
        let reply = admin.post(url).body(body).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
    }
    let reviewer = app.user(&admin, "rita@example.org", "reviewer").await;
    let trainer = app.user(&admin, "ada@example.org", "trainer").await;
    let queue = app.call_ok(&reviewer, "review/doubtful", &[]).await;
    assert!(queue["run_id"].is_null() && queue["items"].as_array().unwrap().is_empty(), "{queue}");
    // Prompts to draw a batch from, by the reward model's uncertainty: refused with none.
    let prompts: String = (0..6).map(|i| format!("\"Could you tell me about topic {i}?\"\n")).collect();
    let url = app.url(&format!("/api/datasets/import?format=prompts&request_id={}", uuid::Uuid::new_v4()));
    assert_eq!(admin.post(url).body(prompts).send().await.unwrap().status(), 200);
    let unsure_batch = uuid::Uuid::new_v4().to_string();
    let draw = [
        ("request_id", unsure_batch.as_str()),
        ("size", "2"),
        ("k", "3"),
        ("overlap", "1"),
        ("from_prompts", "true"),
        ("by_uncertainty", "true"),
        ("temperature", "1.0"),
        ("max_tokens", "6"),
        ("seed", "11"),
    ];
    let refused = app.call(&admin, "rank/create_batch", &draw).await;
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["field"], "by_uncertainty", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("no reward model is trained yet"), "{refused}");

    let id = uuid::Uuid::new_v4().to_string();
    let form = [
        ("request_id", id.as_str()),
        ("source", "prefs"),
        ("split_seed", "3"),
        ("test_ratio", "0.25"),
        ("layers", "1,2"),
    ];
    app.call_ok(&admin, "reward/start", &form).await;
    let run = finished(&app, &admin, &id).await;
    assert_eq!(run["status"], "done", "{run}");
    let result = &run["result"];
    // Figures per batch (one a file) and per model version (imported text: none).
    let batches = result["by_batch"].as_array().unwrap();
    assert_eq!(batches.len(), 2, "{result}");
    let tested: u64 = batches.iter().map(|b| b["pairs"].as_u64().unwrap()).sum();
    assert_eq!(tested, result["pairs_test"].as_u64().unwrap());
    assert_eq!(result["by_model"][0]["label"], "imported text", "{result}");
    // The third trainer's rankings, and only theirs, are doubtful: those the heads are sure
    // enough of (the tiny model's features may leave them unsure of a few prompts).
    let doubtful = result["doubtful"].as_array().unwrap();
    assert!((1..=20).contains(&doubtful.len()), "{} doubtful: {result}", doubtful.len());
    assert!(doubtful.iter().all(|d| d["trainer"] == "import:prefs/cid" && d["others"] == 2), "{doubtful:?}");
    // The Quality page reads the same run.
    let figures = app.call_ok(&reviewer, "stats/reward", &[]).await;
    assert_eq!(figures["id"], id.as_str());
    assert_eq!(app.call(&trainer, "stats/reward", &[]).await.status(), 403);

    // The queue: most doubtful first, each with the prompt and the replies in the ranker's
    // order beside the others' places and the model's scores.
    assert_eq!(app.call(&trainer, "review/doubtful", &[]).await.status(), 403);
    let queue = app.call_ok(&reviewer, "review/doubtful", &[]).await;
    let items = queue["items"].as_array().unwrap();
    assert_eq!((queue["found"].as_u64(), queue["settled"].as_u64()), (Some(doubtful.len() as u64), Some(0)));
    assert_eq!(items.len(), doubtful.len().min(20));
    let first = &items[0];
    assert_eq!(first["replies"][0]["text"], "No.");
    assert_eq!(first["replies"][0]["place"], 1);
    assert_eq!(first["replies"][0]["others"], json!([2, 2]));
    assert!(first["replies"][0]["score"].as_f64().unwrap() < first["replies"][1]["score"].as_f64().unwrap());
    let asked = first["prompt"][0]["content"].as_str().unwrap();
    let number: usize = asked["Question ".len()..].split(':').next().unwrap().parse().unwrap();
    assert!(number % 2 == 1 && number < 40, "one of the shared comparisons: {first}");
    let ranking = first["doubt"]["ranking_id"].as_str().unwrap().to_string();

    let kwise = || async {
        let url = app.url("/api/datasets/export?format=kwise&source=prefs");
        let text = admin.get(url).send().await.unwrap().text().await.unwrap();
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
    };
    let before = kwise().await;
    assert!(before.iter().any(|r| r["ranking_id"] == ranking.as_str()));

    // Refused: a trainer; an unknown verdict; a note too long; a ranking no run found
    // doubtful. Nothing is stored by any of them.
    let verdict = uuid::Uuid::new_v4().to_string();
    let judge = |verdict_id: &str, what: &str, note: &str| {
        vec![
            ("request_id", verdict_id.to_string()),
            ("ranking_id", ranking.clone()),
            ("verdict", what.to_string()),
            ("note", note.to_string()),
        ]
    };
    let call = |client: &reqwest::Client, form: Vec<(&'static str, String)>| {
        let request = client.post(app.url("/api/review/judge_ranking")).form(&form);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(call(&trainer, judge(&verdict, "set_aside", "")).await.status(), 403);
    let bad = call(&reviewer, judge(&verdict, "maybe", "")).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("verdict"));
    let long = call(&reviewer, judge(&verdict, "set_aside", &"x".repeat(2001))).await;
    assert_eq!(long.status(), 413);
    let mut unknown = judge(&verdict, "set_aside", "");
    unknown[1].1 = uuid::Uuid::new_v4().to_string();
    assert_eq!(call(&reviewer, unknown).await.status(), 404);
    assert_eq!(app.call_ok(&reviewer, "review/doubtful", &[]).await["settled"], 0);

    // Twenty clicks of one verdict: stored once; a second reviewer is answered with it.
    let clicks = (0..20)
        .map(|_| call(&reviewer, judge(&verdict, "set_aside", "ranks the curt reply first every time")));
    for reply in futures::future::join_all(clicks).await {
        assert_eq!(reply.status(), 200);
        let stored: Value = reply.json().await.unwrap();
        assert_eq!(
            (stored["id"].as_str(), stored["verdict"].as_str()),
            (Some(verdict.as_str()), Some("set_aside"))
        );
    }
    let other = app.user(&admin, "otto@example.org", "reviewer").await;
    let late: Value =
        call(&other, judge(&uuid::Uuid::new_v4().to_string(), "stands", "")).await.json().await.unwrap();
    assert_eq!((late["id"].as_str(), late["verdict"].as_str()), (Some(verdict.as_str()), Some("set_aside")));
    let queue = app.call_ok(&reviewer, "review/doubtful", &[]).await;
    assert_eq!(queue["settled"], 1);
    assert!(queue["items"].as_array().unwrap().iter().all(|i| i["doubt"]["ranking_id"] != ranking.as_str()));

    // Set aside, it leaves the exports (the others' rankings of that comparison stay).
    let after = kwise().await;
    assert_eq!(after.len(), before.len() - 1);
    assert!(after.iter().all(|r| r["ranking_id"] != ranking.as_str()));
    // A ranking that stands stays.
    let kept = queue["items"][0]["doubt"]["ranking_id"].as_str().unwrap().to_string();
    let mut stands = judge(&uuid::Uuid::new_v4().to_string(), "stands", "");
    stands[1].1 = kept.clone();
    assert_eq!(call(&reviewer, stands).await.status(), 200);
    let last = kwise().await;
    assert_eq!(last.len(), after.len());
    assert!(last.iter().any(|r| r["ranking_id"] == kept.as_str()));
    assert_eq!(app.call_ok(&reviewer, "review/doubtful", &[]).await["settled"], 2);

    // Drawn by uncertainty: twenty clicks make one batch of a pool of 3 x 2 prompts, whose
    // completions the run's head scores; the 2 it is least sure of are queued.
    let clicks = (0..20).map(|_| app.call(&admin, "rank/create_batch", &draw));
    for reply in futures::future::join_all(clicks).await {
        let status = reply.status();
        assert_eq!(status, 200, "{}", reply.text().await.unwrap());
    }
    let batch = common::sampled(&app, &admin).await;
    assert_eq!(batch["id"], unsure_batch.as_str(), "{batch}");
    assert_eq!(batch["uncertainty"]["reward_run_id"], id.as_str(), "{batch}");
    assert_eq!(batch["uncertainty"]["keep"], 2, "{batch}");
    let counts = ["comparisons", "scored", "ready", "passed", "failed"].map(|f| batch[f].as_i64().unwrap());
    assert_eq!(counts, [6, 0, 2, 4, 0], "{batch}");
    assert_eq!(batch["rankings_wanted"], 2, "{batch}");
    let batches = app.call_ok(&admin, "rank/batches", &[]).await;
    assert_eq!(batches.as_array().unwrap().iter().filter(|b| b["id"] == unsure_batch.as_str()).count(), 1);
    // Only the two kept are offered to a trainer (who skips each, to be offered the next).
    let mut offered = std::collections::BTreeSet::new();
    loop {
        let task = app.call_ok(&trainer, "rank/task", &[]).await;
        let Some(comparison) = task["comparison_id"].as_str() else { break };
        assert!(offered.insert(comparison.to_string()), "offered twice: {task}");
        let asked = task["context"][0]["text"].as_str().unwrap_or_default();
        assert!(asked.starts_with("Could you tell me about topic"), "{task}");
        app.call_ok(&trainer, "rank/skip", &[("comparison_id", comparison)]).await;
    }
    assert_eq!(offered.len(), 2, "{offered:?}");
}
on_both_engines!(doubtful_rankings_wait_for_review_and_set_aside_ones_leave_the_exports);

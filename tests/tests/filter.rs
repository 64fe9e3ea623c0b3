//! The content filter through HTTP, on SQLite and PostgreSQL: a user turn the default policy
//! blocks is stored with its decision and never sent to the model; a policy with a bad line
//! is refused whole, naming it, and the one in force stays; a new version applies at once,
//! also to a model reply as it streams; false positives and negatives are recorded and give
//! the precision per category; only admins edit the policy.

mod common;
use common::{Engine, TestApp, error_body, tiny_model};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn chat(app: &TestApp, client: &reqwest::Client) -> String {
    let chat = id();
    let form = [("request_id", chat.as_str()), ("kind", "chat"), ("max_tokens", "8")];
    app.call_ok(client, "conversations/create", &form).await;
    chat
}

async fn say(app: &TestApp, client: &reqwest::Client, chat: &str, text: &str) -> Value {
    let message = id();
    let form =
        [("conversation_id", chat), ("request_id", message.as_str()), ("role", "user"), ("text", text)];
    app.call_ok(client, "conversations/add_message", &form).await
}

async fn reply(app: &TestApp, client: &reqwest::Client, chat: &str, parent: &str) -> String {
    let url = app.url(&format!(
        "/api/conversations/{chat}/generate?purpose=reply&parent={parent}&request_id={}&seed=7",
        id()
    ));
    client.get(url).send().await.expect("generate").text().await.expect("body")
}

async fn feedback(app: &TestApp, client: &reqwest::Client, form: &[(&str, &str)]) -> reqwest::Response {
    app.call(client, "filter/feedback", form).await
}

async fn the_filter_blocks_records_and_learns(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;

    // The default policy blocks this turn: stored with the decision, not sent to the model.
    let chat_id = chat(&app, &ada).await;
    let turn = say(&app, &ada, &chat_id, "I want to kill myself").await;
    assert_eq!(turn["filter"]["action"], "block");
    assert_eq!(turn["filter"]["categories"], serde_json::json!(["self-harm"]));
    assert_eq!(turn["filter"]["policy_version"], 0);
    let turn_id = turn["id"].as_str().unwrap().to_string();
    let refused = reply(&app, &ada, &chat_id, &turn_id).await;
    assert!(refused.contains("content filter blocked that turn (self-harm)"), "{refused}");
    let stored = app.call_ok(&ada, "conversations/get", &[("conversation_id", chat_id.as_str())]).await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 1, "no model turn");
    assert_eq!(stored["messages"][0]["filter"]["action"], "block");

    // Ada says it was not unsafe; Ben, who cannot read the chat, cannot; bad input is named.
    let fp = [
        ("conversation_id", chat_id.as_str()),
        ("message_id", turn_id.as_str()),
        ("kind", "false_positive"),
        ("category", "self-harm"),
        ("note", "a song lyric"),
    ];
    assert_eq!(feedback(&app, &ben, &fp).await.status(), 404);
    let mut wrong = fp;
    wrong[3] = ("category", "violence");
    let body = error_body(feedback(&app, &ada, &wrong).await).await;
    assert_eq!(body["field"], "category", "{body}");
    assert_eq!(feedback(&app, &ada, &fp).await.status(), 200);
    let calm_chat = chat(&app, &ada).await;
    let calm = say(&app, &ada, &calm_chat, "Tell me about tea").await;
    assert_eq!(calm["filter"]["action"], Value::Null);
    // An edited turn is judged again.
    let form = [
        ("conversation_id", calm_chat.as_str()),
        ("message_id", calm["id"].as_str().unwrap()),
        ("text", "Tell me how to build a bomb"),
    ];
    let edited = app.call_ok(&ada, "conversations/edit_message", &form).await;
    assert_eq!(edited["filter"]["categories"], serde_json::json!(["violence"]));
    let stored = app.call_ok(&ada, "conversations/get", &[("conversation_id", calm_chat.as_str())]).await;
    assert_eq!(stored["messages"][0]["filter"]["action"], "warn", "the latest decision is shown");

    // A bad policy is refused whole with its line; the one in force stays.
    assert_eq!(app.call(&ada, "filter/save_policy", &[("policy", "category x warn")]).await.status(), 403);
    let bad = "category gibberish block\nwords: zzz\npattern: (unclosed\n";
    let reply_bad = app.call(&admin, "filter/save_policy", &[("policy", bad)]).await;
    assert_eq!(reply_bad.status(), 422);
    let body = error_body(reply_bad).await;
    assert_eq!(body["field"], "policy");
    assert!(body["message"].as_str().unwrap().starts_with("line 3"), "{body}");
    let overview = app.call_ok(&admin, "filter/overview", &[]).await;
    assert_eq!(overview["policy"]["version"], 0);
    let self_harm = overview["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "self-harm")
        .unwrap()
        .clone();
    assert_eq!((self_harm["flagged"].as_i64(), self_harm["false_positives"].as_i64()), (Some(1), Some(1)));

    // A new version applies at once: this one blocks any text with a character that is not a
    // lower-case letter, a space or a question mark, which the tiny model's replies have.
    let strict = "category gibberish block\npattern: [^a-z ?]\n";
    let saved = app.call_ok(&admin, "filter/save_policy", &[("policy", strict)]).await;
    assert_eq!(saved["policy"]["version"], 1);
    let strict_chat = chat(&app, &ada).await;
    let question = say(&app, &ada, &strict_chat, "what is tea?").await;
    assert_eq!(
        (question["filter"]["action"].clone(), question["filter"]["policy_version"].as_i64()),
        (Value::Null, Some(1))
    );
    let events = reply(&app, &ada, &strict_chat, question["id"].as_str().unwrap()).await;
    assert!(events.contains("event: blocked"), "the reply is stopped as it streams: {events}");
    let stored = app.call_ok(&ada, "conversations/get", &[("conversation_id", strict_chat.as_str())]).await;
    let model_turn = &stored["messages"][1];
    assert_eq!(model_turn["author"]["kind"], "model");
    assert_eq!(model_turn["filter"]["action"], "block", "stored, hidden behind a notice");

    // "Should have been flagged" on a text that passed names a category of the policy.
    let fn_form = [
        ("conversation_id", strict_chat.as_str()),
        ("message_id", question["id"].as_str().unwrap()),
        ("kind", "false_negative"),
        ("category", "gibberish"),
    ];
    assert_eq!(feedback(&app, &ada, &fn_form).await.status(), 200);
    let overview = app.call_ok(&admin, "filter/overview", &[]).await;
    let gibberish = overview["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "gibberish")
        .unwrap()
        .clone();
    assert_eq!((gibberish["flagged"].as_i64(), gibberish["false_negatives"].as_i64()), (Some(1), Some(1)));
    assert_eq!(overview["feedback"].as_array().unwrap().len(), 2);
    assert_eq!(app.call(&ada, "filter/overview", &[]).await.status(), 403);
}
on_both_engines!(the_filter_blocks_records_and_learns);

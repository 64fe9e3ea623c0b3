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
    assert!(refused.contains("content filter blocks turn 1 (self-harm)"), "{refused}");
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
    // A chat's turn is not edited in place (what the model saw stays as it was).
    let form = [
        ("conversation_id", calm_chat.as_str()),
        ("message_id", calm["id"].as_str().unwrap()),
        ("text", "Tell me how to build a bomb"),
    ];
    let refused = app.call(&ada, "conversations/edit_message", &form).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_body(refused).await["field"], "conversation_id");
    // A demonstration's edited turn is judged again.
    let demo = id();
    app.call_ok(&ada, "conversations/create", &[("request_id", demo.as_str()), ("kind", "demonstration")])
        .await;
    let calm = say(&app, &ada, &demo, "Tell me about tea").await;
    let form = [
        ("conversation_id", demo.as_str()),
        ("message_id", calm["id"].as_str().unwrap()),
        ("text", "Tell me how to build a bomb"),
    ];
    let edited = app.call_ok(&ada, "conversations/edit_message", &form).await;
    assert_eq!(edited["filter"]["categories"], serde_json::json!(["violence"]));
    let stored = app.call_ok(&ada, "conversations/get", &[("conversation_id", demo.as_str())]).await;
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

    // The list of decisions, filtered: the blocked self-harm turn with its feedback; the
    // model's reply blocked under version 1; what passed.
    let decisions = |form: Vec<(&'static str, &'static str)>| {
        let (app, admin) = (&app, &admin);
        async move { app.call_ok(admin, "filter/decisions", &form).await }
    };
    let self_harm = decisions(vec![("category", "self-harm")]).await;
    assert_eq!(self_harm["total"], 1, "{self_harm}");
    let line = &self_harm["lines"][0];
    assert_eq!((line["action"].as_str(), line["from_model"].as_bool()), (Some("block"), Some(false)));
    assert_eq!(line["false_positives"], 1);
    assert_eq!(line["matched"], serde_json::json!(["kill myself"]));
    assert_eq!(line["conversation_id"], chat_id.as_str());
    let by_model = decisions(vec![("action", "block"), ("source", "model")]).await;
    assert_eq!(by_model["total"], 1);
    assert_eq!((by_model["lines"][0]["policy_version"].as_i64()), Some(1));
    let passed = decisions(vec![("action", "passed"), ("policy_version", "1")]).await;
    assert_eq!(passed["total"], 1, "the question under version 1: {passed}");
    assert_eq!(
        decisions(vec![]).await["total"],
        6,
        "every decision: two chat turns, a demonstration's turn and its edit, a question, a reply"
    );
    assert_eq!(app.call(&ada, "filter/decisions", &[]).await.status(), 403);
    let body = error_body(app.call(&admin, "filter/decisions", &[("action", "maybe")]).await).await;
    assert_eq!(body["field"], "action");
}
on_both_engines!(the_filter_blocks_records_and_learns);

/// Another Parley serves its policy as `POST /v1/moderations` (OpenAI's shape); this one
/// uses it as its external endpoint, instead of its own rules or beside them. An endpoint
/// that cannot be reached lets texts pass (logged) while the rules still apply.
async fn an_external_moderation_endpoint_flags_texts(engine: Engine) {
    let moderator = TestApp::spawn(engine).await;
    let moderator_admin = moderator.first_admin("admin@example.org", PASSWORD).await;
    let fruit = "category fruit block\nwords: pineapple\ncategory self-harm warn\nwords: sad\n";
    moderator.call_ok(&moderator_admin, "filter/save_policy", &[("policy", fruit)]).await;
    let key = moderator.api_key_for(&moderator_admin).await;

    // The endpoint itself: OpenAI's request and response shape, behind an API key.
    let http = reqwest::Client::new();
    let moderations = moderator.url("/v1/moderations");
    let body = serde_json::json!({ "input": ["a pineapple pie", "tea"], "model": "any" });
    let reply: Value =
        http.post(&moderations).bearer_auth(&key).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(reply["model"], "parley-policy-v1");
    assert_eq!(reply["results"][0]["flagged"], true);
    assert_eq!(reply["results"][0]["categories"], serde_json::json!({ "fruit": true, "self-harm": false }));
    assert_eq!(reply["results"][0]["category_scores"]["fruit"], 1.0);
    assert_eq!(reply["results"][1]["flagged"], false);
    assert_eq!(http.post(&moderations).json(&body).send().await.unwrap().status(), 401);
    let many = serde_json::json!({ "input": vec!["x"; 33] });
    let refused = http.post(&moderations).bearer_auth(&key).json(&many).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["param"], "input");

    let base = moderator.url("/v1");
    let judged = |mode: &'static str, url: String| {
        let key = key.clone();
        async move {
            let args = [
                "--moderation-url",
                url.as_str(),
                "--moderation-key",
                key.as_str(),
                "--moderation-mode",
                mode,
            ];
            let app = TestApp::spawn_with(engine, &args).await;
            let admin = app.first_admin("admin@example.org", PASSWORD).await;
            let ada = app.user(&admin, "ada@example.org", "trainer").await;
            let mut verdicts = vec![];
            for text in ["I love pineapple", "I want to kill myself", "I feel sad today"] {
                let chat_id = chat(&app, &ada).await;
                verdicts.push(say(&app, &ada, &chat_id, text).await["filter"].clone());
            }
            let overview = app.call_ok(&admin, "filter/overview", &[]).await;
            let decisions = app.call_ok(&admin, "filter/decisions", &[("category", "fruit")]).await;
            (verdicts, overview["moderation"].clone(), decisions)
        }
    };

    // Instead of the rules: only the endpoint's flags count, each with the action set here
    // (block); its `self-harm` is the policy's category of that name.
    let (verdicts, described, decisions) = judged("instead", base.clone()).await;
    assert_eq!(
        (verdicts[0]["action"].as_str(), verdicts[0]["categories"].clone()),
        (Some("block"), serde_json::json!(["fruit"]))
    );
    assert_eq!(verdicts[1]["action"], Value::Null, "the rules are not used");
    assert_eq!(verdicts[2]["categories"], serde_json::json!(["self-harm"]));
    assert!(described.as_str().unwrap().contains("instead of the rules"), "{described}");
    assert_eq!(decisions["lines"][0]["matched"], serde_json::json!(["fruit 1.00 (moderation endpoint)"]));

    // Beside the rules: both.
    let (verdicts, _, _) = judged("beside", base).await;
    assert_eq!(verdicts[0]["categories"], serde_json::json!(["fruit"]));
    assert_eq!(verdicts[1]["categories"], serde_json::json!(["self-harm"]), "the default rules block this");
    assert_eq!(verdicts[1]["action"], "block");

    // An endpoint that does not answer: the rules still apply, the rest passes.
    let (verdicts, _, _) = judged("beside", "http://127.0.0.1:9/v1".to_string()).await;
    assert_eq!(verdicts[0]["action"], Value::Null);
    assert_eq!(verdicts[1]["action"], "block");
}
on_both_engines!(an_external_moderation_endpoint_flags_texts);

/// Every turn the model would be given passes the filter, not only the newest: a turn that
/// a new policy blocks stops the reply to any later turn, named by its place.
async fn the_whole_context_passes_the_filter(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let talk = chat(&app, &ada).await;
    let first = say(&app, &ada, &talk, "Tell me about kites").await;
    let first_id = first["id"].as_str().unwrap().to_string();
    assert!(reply(&app, &ada, &talk, &first_id).await.contains("event: saved"));
    let stored = app.call_ok(&ada, "conversations/get", &[("conversation_id", talk.as_str())]).await;
    let answer = stored["messages"][1]["id"].as_str().unwrap().to_string();
    app.call_ok(&admin, "filter/save_policy", &[("policy", "category kites block\nwords: kites\n")]).await;
    let message = id();
    let form = [
        ("conversation_id", talk.as_str()),
        ("request_id", message.as_str()),
        ("parent_id", answer.as_str()),
        ("role", "user"),
        ("text", "And about clouds?"),
    ];
    app.call_ok(&ada, "conversations/add_message", &form).await;
    let url = app.url(&format!(
        "/api/conversations/{talk}/generate?purpose=reply&parent={message}&request_id={}",
        id()
    ));
    let refused = ada.get(url).send().await.unwrap().text().await.unwrap();
    assert!(refused.contains("content filter blocks turn 1 (kites)"), "{refused}");
    assert!(refused.contains("\"field\":\"parent\""), "{refused}");
    let stored = app.call_ok(&ada, "conversations/get", &[("conversation_id", talk.as_str())]).await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 3, "no reply was written");
    assert_eq!(stored["messages"][0]["filter"]["action"], "block", "judged again under the new policy");
}
on_both_engines!(the_whole_context_passes_the_filter);

//! Writing and chatting with the model through HTTP, as the pages do: replies and
//! suggestions streamed from the tiny model and stored with what reproduces them, retries
//! replayed, drafts kept, turns rearranged only while they alternate, revisions, My work,
//! and guidelines.

mod common;
use common::{Engine, TestApp, error_body, tiny_model};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The events of a server-sent event stream, as (name, data).
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
            Some((name.to_string(), serde_json::from_str(data).unwrap_or(Value::Null)))
        })
        .collect()
}

/// Runs one generation in a conversation to its end; returns its events.
async fn generate(
    app: &TestApp,
    client: &reqwest::Client,
    conversation: &str,
    query: &str,
) -> Vec<(String, Value)> {
    let reply = client
        .get(app.url(&format!("/api/conversations/{conversation}/generate?{query}")))
        .send()
        .await
        .expect("generate");
    assert_eq!(reply.status(), 200, "{query}");
    events(&reply.text().await.expect("body"))
}

/// The text of each alternative in a generation's events.
fn texts(events: &[(String, Value)]) -> Vec<String> {
    let mut texts: Vec<String> = vec![];
    for (name, data) in events {
        if name == "delta" {
            let index = data["index"].as_u64().unwrap() as usize;
            if texts.len() <= index {
                texts.resize(index + 1, String::new());
            }
            texts[index].push_str(data["text"].as_str().unwrap());
        }
    }
    texts
}

fn error_event(events: &[(String, Value)]) -> Option<Value> {
    events.iter().find(|(name, _)| name == "error").map(|(_, data)| data.clone())
}

async fn start(app: &TestApp, client: &reqwest::Client, kind: &str) -> String {
    let conversation = id();
    let form = [("request_id", conversation.as_str()), ("kind", kind), ("temperature", "0.9")];
    app.call_ok(client, "conversations/create", &form).await;
    conversation
}

async fn add(
    app: &TestApp,
    client: &reqwest::Client,
    conversation: &str,
    parent: Option<&str>,
    role: &str,
    text: &str,
) -> String {
    let message = id();
    let mut form =
        vec![("conversation_id", conversation), ("request_id", &message), ("role", role), ("text", text)];
    if let Some(parent) = parent {
        form.push(("parent_id", parent));
    }
    app.call_ok(client, "conversations/add_message", &form).await;
    message
}

async fn get(app: &TestApp, client: &reqwest::Client, conversation: &str) -> Value {
    app.call_ok(client, "conversations/get", &[("conversation_id", conversation)]).await
}

async fn model_replies_in_chats_and_regenerate_makes_siblings(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let rita = app.user(&admin, "rita@example.org", "reviewer").await;

    let chat = start(&app, &ada, "chat").await;
    let question = add(&app, &ada, &chat, None, "user", "Tell me about the moon.").await;
    let reply_id = id();
    let query = format!("purpose=reply&parent={question}&request_id={reply_id}&seed=7");
    let first = generate(&app, &ada, &chat, &query).await;
    assert!(error_event(&first).is_none(), "{first:?}");
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"started"));
    assert_eq!(&names[names.len() - 3..], ["done", "saved", "end"], "{names:?}");
    let text = texts(&first).remove(0);

    let stored = get(&app, &ada, &chat).await;
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    let reply = &messages[1];
    assert_eq!(reply["id"], reply_id.as_str());
    assert_eq!(reply["text"], text.as_str());
    assert_eq!(reply["author"]["kind"], "model");
    assert_eq!(reply["author"]["sampling"]["seed"], 7);
    assert_eq!(reply["author"]["sampling"]["temperature"], 0.9, "the chat's own sampling is used");

    // The same request again replays the stored reply; nothing new is stored.
    let again = generate(&app, &ada, &chat, &query).await;
    assert_eq!(texts(&again), vec![text.clone()]);
    assert_eq!(get(&app, &ada, &chat).await["messages"].as_array().unwrap().len(), 2);

    // Regenerate: a sibling under the same user turn, with its own seed (fixed: the tiny
    // model writes only whitespace for some seeds, which the server refuses).
    let sibling_id = id();
    let regenerated = generate(
        &app,
        &ada,
        &chat,
        &format!("purpose=reply&parent={question}&request_id={sibling_id}&seed=8"),
    )
    .await;
    assert!(error_event(&regenerated).is_none(), "{regenerated:?}");
    let stored = get(&app, &ada, &chat).await;
    let sibling =
        stored["messages"].as_array().unwrap().iter().find(|m| m["id"] == sibling_id.as_str()).unwrap();
    assert_eq!(sibling["parent_id"], question.as_str());
    assert_eq!(sibling["position"], 1);

    // Only the owner has the model write; others learn nothing, or that they may only read.
    let reply_status = |client: reqwest::Client| {
        let url = app.url(&format!(
            "/api/conversations/{chat}/generate?purpose=reply&parent={question}&request_id={}",
            id()
        ));
        async move { client.get(url).send().await.unwrap().status() }
    };
    assert_eq!(reply_status(ben.clone()).await, 404);
    assert_eq!(reply_status(rita.clone()).await, 403);
    assert_eq!(reply_status(app.client()).await, 401);

    // The model replies to user turns only, and writes suggestions only in demonstrations.
    let wrong_parent =
        generate(&app, &ada, &chat, &format!("purpose=reply&parent={reply_id}&request_id={}", id())).await;
    assert_eq!(error_event(&wrong_parent).unwrap()["field"], "parent");
    let wrong_purpose =
        generate(&app, &ada, &chat, &format!("purpose=suggest&parent={question}&request_id={}", id())).await;
    assert_eq!(error_event(&wrong_purpose).unwrap()["field"], "purpose");
    let too_hot = generate(
        &app,
        &ada,
        &chat,
        &format!("purpose=reply&parent={question}&request_id={}&temperature=5", id()),
    )
    .await;
    assert_eq!(error_event(&too_hot).unwrap()["field"], "temperature");
    assert_eq!(
        get(&app, &ada, &chat).await["messages"].as_array().unwrap().len(),
        3,
        "refusals store nothing"
    );
}
on_both_engines!(model_replies_in_chats_and_regenerate_makes_siblings);

async fn suggestions_are_stored_and_a_taken_one_keeps_its_edit_distance(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let demo = start(&app, &ada, "demonstration").await;

    // Suggestions for the first turn (the model plays the user), then for the reply.
    let request = id();
    let shown =
        generate(&app, &ada, &demo, &format!("purpose=suggest&request_id={request}&n=3&seed=40")).await;
    assert!(error_event(&shown).is_none(), "{shown:?}");
    let suggested = texts(&shown);
    assert_eq!(suggested.len(), 3);
    let stored = get(&app, &ada, &demo).await;
    let suggestions = stored["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 3);
    for (i, s) in suggestions.iter().enumerate() {
        assert_eq!(s["index"], i);
        assert_eq!(s["role"], "user");
        assert_eq!(s["text"], suggested[i].as_str());
        assert_eq!(s["sampling"]["seed"], 40, "alternative i samples with seed + i; the base is kept");
        assert!(["stop", "length"].contains(&s["finish_reason"].as_str().unwrap()));
    }

    // Taking suggestion 2 and editing it: the turn keeps the suggestion and the distance.
    let turn = id();
    let edited = format!("{} Please be brief.", suggested[1]);
    let form = [
        ("conversation_id", demo.as_str()),
        ("request_id", turn.as_str()),
        ("role", "user"),
        ("text", edited.as_str()),
        ("suggestion_request", request.as_str()),
        ("suggestion_index", "1"),
    ];
    let message = app.call_ok(&ada, "conversations/add_message", &form).await;
    assert_eq!(message["suggestion"]["text"], suggested[1].as_str());
    assert_eq!(message["suggestion"]["edit_distance"], " Please be brief.".chars().count());
    let stored = get(&app, &ada, &demo).await;
    let taken: Vec<&Value> = stored["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["taken_message_id"].is_null())
        .collect();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0]["taken_message_id"], turn.as_str());

    // A suggestion made for another turn cannot be claimed.
    let wrong = [
        ("conversation_id", demo.as_str()),
        ("request_id", &id()),
        ("parent_id", turn.as_str()),
        ("role", "assistant"),
        ("text", "Sure."),
        ("suggestion_request", request.as_str()),
        ("suggestion_index", "0"),
    ];
    let refused = app.call(&ada, "conversations/add_message", &wrong).await;
    assert_eq!(refused.status(), 404);
    assert_eq!(error_body(refused).await["field"], "suggestion_request");
    assert_eq!(get(&app, &ada, &demo).await["messages"].as_array().unwrap().len(), 1, "nothing stored");

    // Assistant suggestions for the reply; too many asked for is refused by name.
    let reply_request = id();
    let replies =
        generate(&app, &ada, &demo, &format!("purpose=suggest&parent={turn}&request_id={reply_request}&n=2"))
            .await;
    assert!(error_event(&replies).is_none(), "{replies:?}");
    let stored = get(&app, &ada, &demo).await;
    let for_reply =
        stored["suggestions"].as_array().unwrap().iter().filter(|s| s["role"] == "assistant").count();
    assert_eq!(for_reply, 2);
    let too_many =
        generate(&app, &ada, &demo, &format!("purpose=suggest&parent={turn}&request_id={}&n=9", id())).await;
    assert_eq!(error_event(&too_many).unwrap()["field"], "n");

    // Submitted with a written reply, the SFT export says who wrote each turn and how: the
    // first from suggestion 2 of the model, edited; the reply by the trainer alone.
    let form = [
        ("conversation_id", demo.as_str()),
        ("request_id", &id()),
        ("parent_id", turn.as_str()),
        ("role", "assistant"),
        ("text", "Sure."),
    ];
    app.call_ok(&ada, "conversations/add_message", &form).await;
    app.call_ok(&ada, "conversations/submit", &[("conversation_id", &demo)]).await;
    let sft =
        admin.get(app.url("/api/datasets/export?format=sft")).send().await.unwrap().text().await.unwrap();
    let row: Value = serde_json::from_str(sft.lines().next().expect("one demonstration")).unwrap();
    let provenance = row["provenance"].as_array().unwrap();
    assert_eq!(provenance.len(), row["messages"].as_array().unwrap().len(), "{row}");
    let (first, reply) = (&provenance[provenance.len() - 2], &provenance[provenance.len() - 1]);
    assert_eq!(first["author"], "trainer");
    let from = &first["from_suggestion"];
    assert_eq!(from["edit_distance"], " Please be brief.".chars().count(), "{row}");
    assert!(from["model_name"].is_string() && from["edit_ratio"].as_f64().unwrap() > 0.0, "{row}");
    assert_eq!((reply["author"].as_str(), &reply["from_suggestion"]), (Some("trainer"), &Value::Null));
}
on_both_engines!(suggestions_are_stored_and_a_taken_one_keeps_its_edit_distance);

async fn drafts_turn_order_revisions_and_my_work(engine: Engine) {
    // No model here: the page still works, and asking for a suggestion says why it cannot.
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let demo = start(&app, &ada, "demonstration").await;

    let no_model = generate(&app, &ada, &demo, &format!("purpose=suggest&request_id={}", id())).await;
    assert_eq!(error_event(&no_model).unwrap()["error"], "unavailable");

    // The text being typed is kept on the server, and cleared once it becomes a turn.
    let typed = [("conversation_id", demo.as_str()), ("text", "What is the tallest mountain?")];
    app.call_ok(&ada, "conversations/save_composer", &typed).await;
    assert_eq!(get(&app, &ada, &demo).await["composer"], "What is the tallest mountain?");
    let too_big = "x".repeat(33 * 1024);
    let refused = app
        .call(&ada, "conversations/save_composer", &[("conversation_id", &demo), ("text", &too_big)])
        .await;
    assert_eq!(refused.status(), 413);
    let by_ben = app.call(&ben, "conversations/save_composer", &typed).await;
    assert_eq!(by_ben.status(), 404);

    let q1 = add(&app, &ada, &demo, None, "user", "What is the tallest mountain?").await;
    assert_eq!(get(&app, &ada, &demo).await["composer"], Value::Null);
    let a1 = add(&app, &ada, &demo, Some(q1.as_str()), "assistant", "Mount Everest.").await;
    let q2 = add(&app, &ada, &demo, Some(a1.as_str()), "user", "And the deepest lake?").await;
    let a2 = add(&app, &ada, &demo, Some(q2.as_str()), "assistant", "Lake Baikal.").await;

    // Deleting one turn in the middle would break the alternation: refused, nothing changed.
    let order = |ids: &[&String]| -> Vec<(String, String)> {
        let mut form = vec![("conversation_id".to_string(), demo.clone())];
        form.extend(ids.iter().enumerate().map(|(i, id)| (format!("order[{i}]"), id.to_string())));
        form
    };
    let rearrange = |form: Vec<(String, String)>| {
        let client = ada.clone();
        let url = app.url("/api/conversations/rearrange");
        async move { client.post(url).form(&form).send().await.unwrap() }
    };
    let broken = rearrange(order(&[&q1, &q2, &a2])).await;
    assert_eq!(broken.status(), 422);
    let err = error_body(broken).await;
    assert_eq!(err["field"], "order");
    assert!(err["message"].as_str().unwrap().starts_with("turn 2 would be the user's"), "{err}");
    let texts_now = |c: &Value| -> Vec<String> {
        c["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(get(&app, &ada, &demo).await["messages"].as_array().unwrap().len(), 4);

    // Moving the second exchange first, then deleting the last exchange.
    let moved = rearrange(order(&[&q2, &a2, &q1, &a1])).await;
    assert_eq!(moved.status(), 200);
    let stored = get(&app, &ada, &demo).await;
    let first = stored["messages"].as_array().unwrap().iter().find(|m| m["parent_id"].is_null()).unwrap();
    assert_eq!(first["id"], q2.as_str());
    assert_eq!(rearrange(order(&[&q2, &a2])).await.status(), 200);
    assert_eq!(texts_now(&get(&app, &ada, &demo).await), ["And the deepest lake?", "Lake Baikal."]);

    // Submit, edit (a draft again), submit: two revisions in the history.
    app.call_ok(&ada, "conversations/submit", &[("conversation_id", &demo)]).await;
    let edit =
        [("conversation_id", demo.as_str()), ("message_id", a2.as_str()), ("text", "Lake Baikal, 1,642 m.")];
    app.call_ok(&ada, "conversations/edit_message", &edit).await;
    let after_edit = get(&app, &ada, &demo).await;
    assert_eq!((after_edit["status"].as_str(), after_edit["revision"].as_i64()), (Some("draft"), Some(1)));
    app.call_ok(&ada, "conversations/submit", &[("conversation_id", &demo)]).await;
    let history = app.call_ok(&ada, "conversations/history", &[("conversation_id", &demo)]).await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(texts_now(&history[0]["conversation"])[1], "Lake Baikal.");
    assert_eq!(texts_now(&history[1]["conversation"])[1], "Lake Baikal, 1,642 m.");
    assert_eq!(app.call(&ben, "conversations/history", &[("conversation_id", &demo)]).await.status(), 404);

    // My work: own conversations only, filtered by kind, status and words.
    let chat = start(&app, &ada, "chat").await;
    add(&app, &ada, &chat, None, "user", "Plan a trip to Kyoto").await;
    start(&app, &ben, "demonstration").await;
    let mine = |form: Vec<(&'static str, &'static str)>| {
        let client = ada.clone();
        let url = app.url("/api/conversations/mine");
        async move {
            let reply = client.post(url).form(&form).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            let list = reply.json::<Value>().await.unwrap();
            list["items"].as_array().unwrap().clone()
        }
    };
    let all = mine(vec![]).await;
    assert_eq!(all.len(), 2, "ben's conversation is not in ada's list");
    assert_eq!(all[0]["id"], chat.as_str(), "newest change first");
    assert_eq!(all[0]["title"], "Plan a trip to Kyoto");
    assert_eq!(mine(vec![("kind", "demonstration")]).await.len(), 1);
    assert_eq!(mine(vec![("status", "submitted")]).await[0]["id"], demo.as_str());
    assert_eq!(mine(vec![("search", "BAIKAL")]).await.len(), 1);
    assert_eq!(mine(vec![("search", "100%_")]).await.len(), 0, "wildcards are searched as text");

    // Paged, with the total: 52 conversations are two pages of 50.
    for _ in 0..50 {
        start(&app, &ada, "chat").await;
    }
    let page = |offset: &'static str| {
        let client = ada.clone();
        let url = app.url("/api/conversations/mine");
        async move { client.post(url).form(&[("offset", offset)]).send().await.unwrap() }
    };
    let first: Value = page("0").await.json().await.unwrap();
    assert_eq!((first["total"].as_i64(), first["items"].as_array().unwrap().len()), (Some(52), 50));
    let second: Value = page("50").await.json().await.unwrap();
    let second_items = second["items"].as_array().unwrap();
    assert_eq!((second["total"].as_i64(), second_items.len()), (Some(52), 2));
    assert_eq!(second_items.last().unwrap()["id"], demo.as_str(), "the oldest change is last");
    let refused = page("-1").await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("offset"));
}
on_both_engines!(drafts_turn_order_revisions_and_my_work);

async fn guidelines_are_written_by_admins_and_read_by_trainers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let text = "# Write well\n\n- Be **helpful**\n- <script>no</script>";
    let by_trainer = app.call(&ada, "guidelines/save", &[("area", "write"), ("markdown", text)]).await;
    assert_eq!(by_trainer.status(), 403);
    assert_eq!(app.call_ok(&ada, "guidelines/get", &[("area", "write")]).await, Value::Null);
    app.call_ok(&admin, "guidelines/save", &[("area", "write"), ("markdown", text)]).await;
    let read = app.call_ok(&ada, "guidelines/get", &[("area", "write")]).await;
    assert_eq!(read["markdown"], text, "stored as written; rendering makes it safe");
    let unknown = app.call(&admin, "guidelines/save", &[("area", "rank-secret"), ("markdown", "x")]).await;
    assert_eq!(unknown.status(), 422);
    assert_eq!(error_body(unknown).await["field"], "area");
    let huge = "x".repeat(65 * 1024);
    let too_big = app.call(&admin, "guidelines/save", &[("area", "chat"), ("markdown", &huge)]).await;
    assert_eq!(too_big.status(), 413);
}
on_both_engines!(guidelines_are_written_by_admins_and_read_by_trainers);

async fn size_limits_are_configurable_and_named(engine: Engine) {
    let app = TestApp::spawn_with(engine, &["--max-message-kb", "1", "--max-messages", "3"]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let demo = start(&app, &ada, "demonstration").await;
    let long = "word ".repeat(300);
    let form = [("conversation_id", demo.as_str()), ("request_id", &id()), ("role", "user"), ("text", &long)];
    let refused = app.call(&ada, "conversations/add_message", &form).await;
    assert_eq!(refused.status(), 413);
    let err = error_body(refused).await;
    assert_eq!(err["field"], "text");
    assert_eq!(err["message"], "a message may hold 1 KB at most; this one is 2 KB");
    let q = add(&app, &ada, &demo, None, "user", "One?").await;
    let a = add(&app, &ada, &demo, Some(q.as_str()), "assistant", "Two.").await;
    let last = add(&app, &ada, &demo, Some(a.as_str()), "user", "Three?").await;
    let form = [
        ("conversation_id", demo.as_str()),
        ("request_id", &id()),
        ("parent_id", last.as_str()),
        ("role", "assistant"),
        ("text", "Four."),
    ];
    let full = app.call(&ada, "conversations/add_message", &form).await;
    assert_eq!(full.status(), 413);
    assert_eq!(error_body(full).await["message"], "a conversation may hold 3 messages at most");
    assert_eq!(get(&app, &ada, &demo).await["messages"].as_array().unwrap().len(), 3);
}
on_both_engines!(size_limits_are_configurable_and_named);

//! Feedback on model-written messages through HTTP, on SQLite and PostgreSQL: one per person
//! per message and editable; only on messages the caller may read; unknown categories,
//! oversize text and person-written messages refused with nothing stored; reviewers list
//! everyone's, trainers their own; filters; admins set the categories.

mod common;
use common::{Engine, TestApp, chat_with_replies, error_body, tiny_model};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

async fn list(app: &TestApp, client: &reqwest::Client, form: &[(&str, &str)]) -> Vec<Value> {
    app.call_ok(client, "feedback/list", form).await.as_array().cloned().unwrap_or_default()
}

async fn feedback_is_one_per_person_and_readers_only(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let rita = app.user(&admin, "rita@example.org", "reviewer").await;
    let (chat, replies) = chat_with_replies(&app, &ada, 1).await;
    let reply = replies[0].as_str();
    let save = |thumbs: &'static str, categories: Vec<&'static str>, text: String| {
        let mut form: Vec<(String, String)> = vec![
            ("target_kind".into(), "message".into()),
            ("target_id".into(), reply.to_string()),
            ("conversation_id".into(), chat.clone()),
            ("text".into(), text),
        ];
        if !thumbs.is_empty() {
            form.push(("thumbs".into(), thumbs.into()));
        }
        for (i, c) in categories.into_iter().enumerate() {
            form.push((format!("categories[{i}]"), c.into()));
        }
        form
    };
    let send = |client: &reqwest::Client, form: Vec<(String, String)>| {
        let client = client.clone();
        let url = app.url("/api/feedback/save");
        async move { client.post(url).form(&form).send().await.expect("save") }
    };

    let first = send(&ada, save("-1", vec!["harmful", "untrue"], "Made up a date.".into())).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["thumbs"], -1);
    assert_eq!(first["categories"], serde_json::json!(["harmful", "untrue"]));
    // Saving again replaces it: still one feedback from Ada on this reply.
    let changed: Value = send(&ada, save("1", vec![], "Fine after all.".into())).await.json().await.unwrap();
    assert_eq!(changed["thumbs"], 1);
    assert_eq!(list(&app, &ada, &[]).await.len(), 1);
    let stored = app.call_ok(&ada, "conversations/get", &[("conversation_id", chat.as_str())]).await;
    assert_eq!(stored["my_feedback"][0]["text"], "Fine after all.", "the page gets the reader's own");

    // A trainer who cannot read the chat cannot give feedback on it; a reviewer can.
    assert_eq!(send(&ben, save("-1", vec![], String::new())).await.status(), 404);
    assert_eq!(send(&rita, save("-1", vec!["harmful"], "Unsafe.".into())).await.status(), 200);
    assert_eq!(send(&app.client(), save("-1", vec![], String::new())).await.status(), 401);

    // Bad input names its field, and nothing changes.
    let refused = |reply: reqwest::Response, status: u16, field: &'static str| async move {
        assert_eq!(reply.status(), status);
        let body = error_body(reply).await;
        assert_eq!(body["field"], field, "{body}");
        body
    };
    let unknown =
        refused(send(&ada, save("-1", vec!["boring"], String::new())).await, 422, "categories").await;
    assert!(unknown["message"].as_str().unwrap().contains("harmful"), "{unknown}");
    refused(send(&ada, save("-1", vec![], "x".repeat(33 * 1024))).await, 413, "text").await;
    refused(send(&ada, save("2", vec![], String::new())).await, 422, "thumbs").await;
    let question = stored["messages"][0]["id"].as_str().unwrap().to_string();
    let on_person = vec![
        ("target_kind".to_string(), "message".to_string()),
        ("target_id".to_string(), question),
        ("conversation_id".to_string(), chat.clone()),
        ("thumbs".to_string(), "-1".to_string()),
    ];
    refused(send(&ada, on_person).await, 422, "target_id").await;
    let unknown_kind =
        vec![("target_kind".to_string(), "turn".to_string()), ("target_id".to_string(), reply.to_string())];
    refused(send(&ada, unknown_kind).await, 422, "target_kind").await;
    assert_eq!(list(&app, &ada, &[]).await[0]["feedback"]["text"], "Fine after all.");

    // Reviewers list everyone's; trainers their own; filters narrow it.
    let all = list(&app, &rita, &[]).await;
    assert_eq!(all.len(), 2);
    assert!(
        all.iter().all(|item| item["conversation"][0] == chat.as_str() && item["model_name"].is_string())
    );
    assert_eq!(list(&app, &ben, &[]).await.len(), 0);
    let harmful = list(&app, &rita, &[("category", "harmful")]).await;
    assert_eq!(harmful.len(), 1);
    assert_eq!(harmful[0]["user_email"], "rita@example.org");
    let model_id = all[0]["model_version_id"].as_str().unwrap().to_string();
    assert_eq!(list(&app, &rita, &[("model_version_id", model_id.as_str())]).await.len(), 2);
    let other_model = uuid::Uuid::new_v4().to_string();
    assert_eq!(list(&app, &rita, &[("model_version_id", other_model.as_str())]).await.len(), 0);
    assert_eq!(list(&app, &rita, &[("from", "2999-01-01")]).await.len(), 0);
    assert_eq!(list(&app, &rita, &[("to", "2999-01-01")]).await.len(), 2);
    let bad_day = app.call(&rita, "feedback/list", &[("from", "yesterday")]).await;
    refused(bad_day, 422, "from").await;

    // Admins set the categories; others may not; old names are no longer offered.
    assert_eq!(app.call(&ada, "feedback/set_categories", &[("categories", "rude")]).await.status(), 403);
    let set = app.call_ok(&admin, "feedback/set_categories", &[("categories", "Rude\n\nwrong\nrude")]).await;
    assert_eq!(set, serde_json::json!(["rude", "wrong"]));
    assert_eq!(app.call_ok(&ada, "feedback/categories", &[]).await, set);
    refused(send(&ada, save("-1", vec!["harmful"], String::new())).await, 422, "categories").await;
    assert_eq!(send(&ada, save("-1", vec!["rude"], String::new())).await.status(), 200);

    // Suggestions shown while writing take feedback too, by request and index.
    let demo = uuid::Uuid::new_v4().to_string();
    app.call_ok(&ada, "conversations/create", &[("request_id", demo.as_str()), ("kind", "demonstration")])
        .await;
    let request = uuid::Uuid::new_v4().to_string();
    let url =
        app.url(&format!("/api/conversations/{demo}/generate?purpose=suggest&n=2&request_id={request}"));
    let body = ada.get(url).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("event: saved"), "{body}");
    let on_suggestion = |index: &str| {
        vec![
            ("target_kind".to_string(), "suggestion".to_string()),
            ("target_id".to_string(), format!("{request}:{index}")),
            ("conversation_id".to_string(), demo.clone()),
            ("thumbs".to_string(), "-1".to_string()),
            ("categories[0]".to_string(), "wrong".to_string()),
        ]
    };
    assert_eq!(send(&ada, on_suggestion("1")).await.status(), 200);
    refused(send(&ada, on_suggestion("5")).await, 404, "target_id").await;
    let on_suggestions = list(&app, &rita, &[("category", "wrong")]).await;
    assert_eq!(on_suggestions.len(), 1);
    assert_eq!(on_suggestions[0]["feedback"]["target"]["kind"], "suggestion");
    assert_eq!(on_suggestions[0]["conversation"][1], "demonstration");
    let mine = app.call_ok(&ada, "conversations/get", &[("conversation_id", demo.as_str())]).await;
    assert_eq!(mine["my_feedback"][0]["target"]["index"], 1);

    // An assistant-side suggestion's thumbs go to the KTO export with the turns before it;
    // the user-side one above does not (it is no assistant completion).
    let turn = uuid::Uuid::new_v4().to_string();
    let form = [
        ("conversation_id", demo.as_str()),
        ("request_id", turn.as_str()),
        ("role", "user"),
        ("text", "Name a red fruit."),
    ];
    app.call_ok(&ada, "conversations/add_message", &form).await;
    let answer = uuid::Uuid::new_v4().to_string();
    let url = app.url(&format!(
        "/api/conversations/{demo}/generate?purpose=suggest&n=1&parent={turn}&request_id={answer}"
    ));
    let body = ada.get(url).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("event: saved"), "{body}");
    let thumbs_up = vec![
        ("target_kind".to_string(), "suggestion".to_string()),
        ("target_id".to_string(), format!("{answer}:0")),
        ("conversation_id".to_string(), demo.clone()),
        ("thumbs".to_string(), "1".to_string()),
    ];
    assert_eq!(send(&ada, thumbs_up).await.status(), 200);
    let suggested = {
        let mut db = app.connect_db().await;
        let texts: Vec<(String, String)> = sqlx::query_as(
            "select id, text from suggestions where id in ($1, $2) and idx in (0, 1) order by id",
        )
        .bind(&answer)
        .bind(&request)
        .fetch_all(&mut db)
        .await
        .unwrap();
        texts
    };
    let kto =
        admin.get(app.url("/api/datasets/export?format=kto")).send().await.unwrap().text().await.unwrap();
    let rows: Vec<Value> = kto.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let texts_of = |wanted: bool| -> Vec<&str> {
        suggested.iter().filter(|(id, _)| (*id == answer) == wanted).map(|(_, text)| text.as_str()).collect()
    };
    let (answer_text, user_side) = (texts_of(true), texts_of(false));
    let row = rows
        .iter()
        .find(|r| r["completion"][0]["content"] == answer_text[0])
        .unwrap_or_else(|| panic!("the suggestion's thumbs in {kto}"));
    assert_eq!(row["label"], true);
    assert_eq!(row["prompt"].as_array().unwrap().last().unwrap()["content"], "Name a red fruit.");
    for text in user_side {
        assert!(!rows.iter().any(|r| r["completion"][0]["content"] == text), "a user-side suggestion");
    }
}
on_both_engines!(feedback_is_one_per_person_and_readers_only);

//! Conversations through the server functions: owners write, others with a lower role
//! cannot even see them, reviewers and admins read; turns alternate; limits are named.

mod common;
use common::{Engine, TestApp, error_body};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn owners_write_reviewers_read_and_other_trainers_see_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let rita = app.user(&admin, "rita@example.org", "reviewer").await;

    let conversation_id = id();
    let created = app
        .call_ok(
            &ada,
            "conversations/create",
            &[("request_id", &conversation_id), ("kind", "demonstration"), ("system_prompt", "")],
        )
        .await;
    assert_eq!(created["status"], "draft");
    assert_eq!(created["system_prompt"], Value::Null);

    let question_id = id();
    let form = [
        ("conversation_id", conversation_id.as_str()),
        ("request_id", &question_id),
        ("role", "user"),
        ("text", "What is 2+2?"),
    ];
    let question = app.call_ok(&ada, "conversations/add_message", &form).await;
    let again = app.call_ok(&ada, "conversations/add_message", &form).await;
    assert_eq!(question, again, "a retried send stores one turn");

    let answer_id = id();
    let answer = [
        ("conversation_id", conversation_id.as_str()),
        ("request_id", &answer_id),
        ("parent_id", &question_id),
        ("role", "assistant"),
        ("text", "4"),
    ];
    app.call_ok(&ada, "conversations/add_message", &answer).await;

    let get = [("conversation_id", conversation_id.as_str())];
    let seen_by_rita = app.call_ok(&rita, "conversations/get", &get).await;
    assert_eq!(seen_by_rita["messages"].as_array().unwrap().len(), 2);
    app.call_ok(&admin, "conversations/get", &get).await;

    let by_ben = app.call(&ben, "conversations/get", &get).await;
    assert_eq!(by_ben.status(), 404, "another trainer's draft is not even visible");
    let ben_writes = app
        .call(
            &ben,
            "conversations/add_message",
            &[
                ("conversation_id", conversation_id.as_str()),
                ("request_id", &id()),
                ("role", "user"),
                ("text", "mine now"),
            ],
        )
        .await;
    assert_eq!(ben_writes.status(), 404);
    let rita_writes = app
        .call(
            &rita,
            "conversations/edit_message",
            &[("conversation_id", conversation_id.as_str()), ("message_id", &answer_id), ("text", "5")],
        )
        .await;
    assert_eq!(rita_writes.status(), 403, "reviewers read, owners write");
    let anonymous = app.call(&app.client(), "conversations/get", &get).await;
    assert_eq!(anonymous.status(), 401);

    app.call_ok(
        &ada,
        "conversations/edit_message",
        &[("conversation_id", conversation_id.as_str()), ("message_id", &answer_id), ("text", "2+2 is 4.")],
    )
    .await;
    let submitted = app.call_ok(&ada, "conversations/submit", &get).await;
    assert_eq!((submitted["status"].as_str(), submitted["revision"].as_i64()), (Some("submitted"), Some(1)));
    assert_eq!(submitted["messages"][1]["text"], "2+2 is 4.");
}
on_both_engines!(owners_write_reviewers_read_and_other_trainers_see_nothing);

#[tokio::test]
async fn turns_alternate_and_oversized_turns_are_refused_by_name() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let conversation_id = id();
    app.call_ok(&ada, "conversations/create", &[("request_id", &conversation_id), ("kind", "demonstration")])
        .await;

    let first_as_assistant = app
        .call(
            &ada,
            "conversations/add_message",
            &[
                ("conversation_id", conversation_id.as_str()),
                ("request_id", &id()),
                ("role", "assistant"),
                ("text", "Hi"),
            ],
        )
        .await;
    assert_eq!(first_as_assistant.status(), 422);
    let body = error_body(first_as_assistant).await;
    assert_eq!(body["field"], "role");
    assert!(body["message"].as_str().unwrap().contains("must be the user's"), "{body}");

    let huge = "x".repeat(33 * 1024);
    let oversized = app
        .call(
            &ada,
            "conversations/add_message",
            &[
                ("conversation_id", conversation_id.as_str()),
                ("request_id", &id()),
                ("role", "user"),
                ("text", &huge),
            ],
        )
        .await;
    assert_eq!(oversized.status(), 413);
    assert_eq!(error_body(oversized).await["field"], "text");

    let empty_submit =
        app.call(&ada, "conversations/submit", &[("conversation_id", conversation_id.as_str())]).await;
    assert_eq!(empty_submit.status(), 422);
    let stored =
        app.call_ok(&ada, "conversations/get", &[("conversation_id", conversation_id.as_str())]).await;
    assert!(stored["messages"].as_array().unwrap().is_empty(), "refused turns stored nothing");
}

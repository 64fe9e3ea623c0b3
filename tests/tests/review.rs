//! Review over HTTP on both engines: the policy queues a new trainer's first submissions and
//! a share of the rest; a reviewer takes one at a time and accepts, rejects with a reason
//! (the author reads it), or edits and accepts (a revision submitted by the reviewer). A
//! retried verdict is stored once; a verdict on a revision the author has since changed is
//! refused and stores nothing; roles are checked on every call.

mod common;
use common::{Engine, TestApp, error_body};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A submitted demonstration of one user turn and one assistant turn; its id and the
/// assistant turn's id.
async fn demonstration(
    app: &TestApp,
    client: &reqwest::Client,
    question: &str,
    answer: &str,
) -> (String, String) {
    let demo = id();
    app.call_ok(client, "conversations/create", &[("request_id", &demo), ("kind", "demonstration")]).await;
    let user = id();
    let form =
        [("conversation_id", demo.as_str()), ("request_id", &user), ("role", "user"), ("text", question)];
    app.call_ok(client, "conversations/add_message", &form).await;
    let reply = id();
    let form = [
        ("conversation_id", demo.as_str()),
        ("request_id", &reply),
        ("parent_id", &user),
        ("role", "assistant"),
        ("text", answer),
    ];
    app.call_ok(client, "conversations/add_message", &form).await;
    app.call_ok(client, "conversations/submit", &[("conversation_id", &demo)]).await;
    (demo, reply)
}

async fn verdict(app: &TestApp, client: &reqwest::Client, body: Value) -> reqwest::Response {
    client.post(app.url("/api/review/submit")).json(&body).send().await.expect("submit review")
}

async fn next(app: &TestApp, client: &reqwest::Client) -> Value {
    app.call_ok(client, "review/next", &[]).await
}

async fn reviews_are_queued_given_and_read_by_the_author(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let rita = app.user(&admin, "rita@example.org", "reviewer").await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;

    // The policy: reviewers read it, only admins change it, and a bad share is named.
    let policy = app.call_ok(&rita, "review/policy", &[]).await;
    assert_eq!((policy["first"].as_u64(), policy["share_percent"].as_f64()), (Some(20), Some(10.0)));
    assert_eq!(app.call(&ada, "review/policy", &[]).await.status(), 403);
    assert_eq!(
        app.call(&rita, "review/set_policy", &[("first", "1"), ("share_percent", "5")]).await.status(),
        403
    );
    let bad = app.call(&admin, "review/set_policy", &[("first", "1"), ("share_percent", "150")]).await;
    assert_eq!(bad.status(), 422);
    assert_eq!(error_body(bad).await["field"], "share_percent");

    // Ada's first demonstration is queued; trainers cannot take from the queue.
    let (demo, reply) = demonstration(&app, &ada, "What is 2 + 2?", "2 + 2 is 5.").await;
    assert_eq!(app.call(&ada, "review/next", &[]).await.status(), 403);
    let item = next(&app, &rita).await;
    assert_eq!(item["conversation"]["id"], demo.as_str());
    assert_eq!(item["author_email"], "ada@example.org");
    assert!(item["queued_because"].as_str().unwrap().contains("first 20"), "{item}");
    assert_eq!(item["waiting"], 1);
    let revision = item["conversation"]["revision"].as_i64().unwrap();

    // A rejection needs a reason; refused, nothing changes and the item stays held by Rita.
    let review_id = id();
    let body = json!({ "request_id": review_id, "conversation_id": demo, "revision": revision, "verdict": "rejected" });
    let refused = verdict(&app, &rita, body).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_body(refused).await["field"], "reason");
    let odd =
        json!({ "request_id": id(), "conversation_id": demo, "revision": revision, "verdict": "maybe" });
    let refused = verdict(&app, &rita, odd).await;
    assert_eq!(
        (refused.status().as_u16(), error_body(refused).await["field"].clone()),
        (422, json!("verdict"))
    );
    assert_eq!(next(&app, &rita).await["conversation"]["id"], demo.as_str());

    // Rejected with a reason, sent twice (a double click): stored once.
    let reason = "The answer is wrong: 2 + 2 is 4.";
    let body = json!({ "request_id": review_id, "conversation_id": demo, "revision": revision,
                       "verdict": "rejected", "reason": reason });
    let first = verdict(&app, &rita, body.clone()).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again: Value = verdict(&app, &rita, body).await.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let all = app.call_ok(&ada, "review/of", &[("conversation_id", &demo)]).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(next(&app, &rita).await, Value::Null, "the queue is empty");

    // The author reads the verdict and the reason; the conversation is rejected.
    let mine = app.call_ok(&ada, "review/mine", &[]).await;
    assert_eq!(mine[0]["review"]["verdict"], "rejected");
    assert_eq!(mine[0]["review"]["reason"], reason);
    assert_eq!(mine[0]["review"]["reviewer_email"], "rita@example.org");
    assert_eq!(mine[0]["title"], "What is 2 + 2?");
    let got = app.call_ok(&ada, "conversations/get", &[("conversation_id", &demo)]).await;
    assert_eq!(got["status"], "rejected");
    // Another trainer cannot read the verdicts on Ada's work.
    assert_eq!(app.call(&ben, "review/of", &[("conversation_id", &demo)]).await.status(), 404);

    // Ada corrects and submits again: always queued after a rejection.
    let form = [("conversation_id", demo.as_str()), ("message_id", &reply), ("text", "2 + 2 is 4")];
    app.call_ok(&ada, "conversations/edit_message", &form).await;
    app.call_ok(&ada, "conversations/submit", &[("conversation_id", &demo)]).await;
    let item = next(&app, &rita).await;
    assert!(item["queued_because"].as_str().unwrap().contains("rejection"), "{item}");
    assert_eq!(item["earlier"].as_array().unwrap().len(), 1);
    let read = item["conversation"]["revision"].as_i64().unwrap();

    // Ada changes it again while Rita reads: Rita's verdict on the old revision is refused.
    let form = [("conversation_id", demo.as_str()), ("message_id", &reply), ("text", "2 + 2 = 4.")];
    app.call_ok(&ada, "conversations/edit_message", &form).await;
    let stale =
        json!({ "request_id": id(), "conversation_id": demo, "revision": read, "verdict": "accepted" });
    let refused = verdict(&app, &rita, stale).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(
        app.call_ok(&ada, "review/of", &[("conversation_id", &demo)]).await.as_array().unwrap().len(),
        1
    );
    app.call_ok(&ada, "conversations/submit", &[("conversation_id", &demo)]).await;
    let item = next(&app, &rita).await;
    let read = item["conversation"]["revision"].as_i64().unwrap();

    // An edit of a turn from elsewhere is refused; an edit of the reply is kept as a revision
    // submitted by Rita, and the demonstration is accepted.
    let foreign = json!({ "request_id": id(), "conversation_id": demo, "revision": read, "verdict": "accepted",
                          "edits": [{ "message_id": id(), "text": "x" }] });
    let refused = verdict(&app, &rita, foreign).await;
    assert_eq!(
        (refused.status().as_u16(), error_body(refused).await["field"].clone()),
        (422, json!("edits"))
    );
    let edited = json!({ "request_id": id(), "conversation_id": demo, "revision": read, "verdict": "accepted",
                         "reason": "Good; added the working.", "edits": [{ "message_id": reply, "text": "2 + 2 = 4, since 2 + 2 = 1 + 1 + 1 + 1." }] });
    let accepted: Value = verdict(&app, &rita, edited).await.json().await.unwrap();
    assert_eq!(accepted["verdict"], "accepted");
    assert_eq!(accepted["edited_revision"], read + 1);
    let got = app.call_ok(&ada, "conversations/get", &[("conversation_id", &demo)]).await;
    assert_eq!(got["status"], "accepted");
    assert_eq!(got["revision"], read + 1);
    let answer =
        got["messages"].as_array().unwrap().iter().find(|m| m["id"] == reply.as_str()).unwrap().clone();
    assert_eq!(answer["text"], "2 + 2 = 4, since 2 + 2 = 1 + 1 + 1 + 1.");
    let history = app.call_ok(&ada, "conversations/history", &[("conversation_id", &demo)]).await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["revision"], read + 1);
    assert_ne!(last["submitted_by"], got["owner_id"], "the edit is the reviewer's revision");
    assert_eq!(last["conversation"]["messages"][1]["text"], "2 + 2 = 4, since 2 + 2 = 1 + 1 + 1 + 1.");
    // The SFT export credits the edited reply to the reviewer, not to the trainer.
    let reply_export = admin.get(app.url("/api/datasets/export?format=sft")).send().await.unwrap();
    assert_eq!(reply_export.status(), 200);
    let text = reply_export.text().await.unwrap();
    let row: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["conversation_id"] == demo.as_str())
        .expect("the accepted demonstration is exported");
    let provenance = &row["provenance"];
    assert_eq!(provenance[0]["author"], "trainer", "{row}");
    assert_eq!(provenance[1]["author"], "reviewer", "{row}");
    assert_eq!(provenance[1]["edited"], "trainer");
    assert!(provenance[1]["reviewer"].is_string() && provenance[1]["reviewer"] != row["trainer"], "{row}");

    // The share: with none of the first and 0%, Ben's work is not queued; with 100%, it is.
    app.call_ok(&admin, "review/set_policy", &[("first", "0"), ("share_percent", "0")]).await;
    demonstration(&app, &ben, "Name a colour.", "Blue.").await;
    assert_eq!(next(&app, &rita).await, Value::Null);
    app.call_ok(&admin, "review/set_policy", &[("first", "0"), ("share_percent", "100")]).await;
    let (sampled, _) = demonstration(&app, &ben, "Name a fruit.", "A pear.").await;
    let item = next(&app, &rita).await;
    assert_eq!(item["conversation"]["id"], sampled.as_str());
    assert!(item["queued_because"].as_str().unwrap().contains("100%"), "{item}");
    // Signed out: nothing.
    assert_eq!(app.call(&app.client(), "review/next", &[]).await.status(), 401);
}
on_both_engines!(reviews_are_queued_given_and_read_by_the_author);

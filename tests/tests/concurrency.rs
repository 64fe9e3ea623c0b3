//! Many requests at once, on SQLite and PostgreSQL, against the real server: 20 trainers
//! submitting rankings (each twice at once, as a double click does), 20 sends of one turn
//! and 20 submits of one demonstration with one request id, a burst of wrong passwords,
//! two reviewers on one item, and two admins demoting themselves. Never a 5xx, nothing
//! stored twice, and the rules that span rows (limits, holds, the last admin) hold.

mod common;
use common::{Engine, TestApp, chat_with_replies, error_body, sampled, tiny_model};
use futures::future::join_all;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut db = app.connect_db().await;
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut db).await.unwrap();
    n
}

async fn twenty_trainers_rank_at_once(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let owner = app.user(&admin, "owner@example.org", "trainer").await;
    chat_with_replies(&app, &owner, 2).await;
    let form = [
        ("request_id", id()),
        ("size", "2".into()),
        ("k", "3".into()),
        ("overlap", "10".into()),
        ("include_original", "true".into()),
        ("temperature", "0.9".into()),
        ("max_tokens", "6".into()),
        ("seed", "7".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call_ok(&admin, "rank/create_batch", &form).await;
    sampled(&app, &admin).await;

    // Twenty trainers sign in at once (twenty Argon2 checks, queued), then each leases.
    let emails: Vec<String> = (0..20).map(|i| format!("t{i}@example.org")).collect();
    for email in &emails {
        let form = [
            ("request_id", id()),
            ("email", email.clone()),
            ("password", PASSWORD.into()),
            ("role", "trainer".into()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.call_ok(&admin, "users/create", &form).await;
    }
    let trainers = join_all(emails.iter().map(|e| app.sign_in(e, PASSWORD))).await;
    let tasks = join_all(trainers.iter().map(|t| app.call_ok(t, "rank/task", &[]))).await;
    assert!(tasks.iter().all(|t| t["comparison_id"].is_string()), "20 slots for 20 trainers");

    // Each submits its ranking twice at the same moment.
    let bodies: Vec<Value> = tasks
        .iter()
        .map(|task| {
            let shown: Vec<Value> = task["completions"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
            let ranking: Vec<Value> = shown.iter().map(|s| json!([s])).collect();
            json!({ "request_id": id(), "comparison_id": task["comparison_id"], "ranking": ranking, "shown": shown })
        })
        .collect();
    let app = &app;
    let sends = trainers.iter().zip(&bodies).flat_map(|(trainer, body)| {
        (0..2).map(move |_| async move {
            let reply = trainer.post(app.url("/api/rank/submit")).json(body).send().await.unwrap();
            let status = reply.status().as_u16();
            (status, reply.text().await.unwrap())
        })
    });
    let replies = join_all(sends).await;
    for (status, text) in &replies {
        assert_eq!(*status, 200, "{text}");
    }
    for pair in replies.chunks(2) {
        let a: Value = serde_json::from_str(&pair[0].1).unwrap();
        let b: Value = serde_json::from_str(&pair[1].1).unwrap();
        assert_eq!((&a["id"], &a["revision"]), (&b["id"], &b["revision"]), "both answers are the one stored");
    }
    assert_eq!(count(&app, "select count(*) from rankings").await, 20, "one ranking per trainer");
    assert_eq!(count(&app, "select count(*) from comparison_slots where done_by is not null").await, 20);
}
on_both_engines!(twenty_trainers_rank_at_once);

async fn duplicates_sent_at_once_are_stored_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let demo = id();
    let create = [("request_id", demo.as_str()), ("kind", "demonstration")];
    let made = join_all((0..20).map(|_| app.call(&ada, "conversations/create", &create))).await;
    assert!(made.iter().all(|r| r.status() == 200));

    // Twenty sends of one turn (one request id): one turn, every answer the same.
    let turn = id();
    let form =
        [("conversation_id", demo.as_str()), ("request_id", &turn), ("role", "user"), ("text", "Hello?")];
    let sent = join_all((0..20).map(|_| app.call(&ada, "conversations/add_message", &form))).await;
    for reply in sent {
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.json::<Value>().await.unwrap()["id"], turn.as_str());
    }
    let reply = id();
    let form = [
        ("conversation_id", demo.as_str()),
        ("request_id", &reply),
        ("parent_id", &turn),
        ("role", "assistant"),
        ("text", "Hello."),
    ];
    app.call_ok(&ada, "conversations/add_message", &form).await;
    assert_eq!(count(&app, "select count(*) from messages").await, 2);

    // Twenty submits with one request id: one revision, one queue row.
    let submit = id();
    let form = [("conversation_id", demo.as_str()), ("request_id", &submit)];
    let submitted = join_all((0..20).map(|_| app.call(&ada, "conversations/submit", &form))).await;
    for reply in submitted {
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.json::<Value>().await.unwrap()["revision"], 1);
    }
    assert_eq!(count(&app, "select count(*) from conversation_revisions").await, 1);
    assert_eq!(count(&app, "select count(*) from review_queue").await, 1);

    // Another trainer using these ids is answered as for any taken id, never a 5xx.
    let theirs = [("request_id", demo.as_str()), ("kind", "demonstration")];
    assert_eq!(app.call(&ben, "conversations/create", &theirs).await.status(), 409);
    let mine = id();
    app.call_ok(&ben, "conversations/create", &[("request_id", &mine), ("kind", "demonstration")]).await;
    let taken = [("conversation_id", mine.as_str()), ("request_id", &turn), ("role", "user"), ("text", "Hi")];
    assert_eq!(app.call(&ben, "conversations/add_message", &taken).await.status(), 409);
    assert_eq!(count(&app, "select count(*) from messages").await, 2, "nothing stored by the refused");
}
on_both_engines!(duplicates_sent_at_once_are_stored_once);

async fn a_burst_of_wrong_passwords_is_counted_before_hashing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.user(&admin, "ada@example.org", "trainer").await;
    app.user(&admin, "ben@example.org", "trainer").await;
    let wrong = [("email", "ada@example.org"), ("password", "not the password at all")];
    let clients: Vec<reqwest::Client> = (0..20).map(|_| app.client()).collect();
    let replies = join_all(clients.iter().map(|client| app.call(client, "auth/login", &wrong))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "five checked: {statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        15,
        "the rest refused unchecked: {statuses:?}"
    );
    // Locked: even the right password waits for the window.
    let right = [("email", "ada@example.org"), ("password", "a long enough passphrase")];
    assert_eq!(app.call(&app.client(), "auth/login", &right).await.status(), 429);
    // Another account from the same address still signs in.
    app.sign_in("ben@example.org", "a long enough passphrase").await;
}
on_both_engines!(a_burst_of_wrong_passwords_is_counted_before_hashing);

async fn two_admins_demoting_themselves_leave_one(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let first = app.first_admin("admin@example.org", PASSWORD).await;
    let second = app.user(&first, "second@example.org", "admin").await;
    let users = app.call_ok(&first, "users/list", &[]).await;
    let id_of = |email: &str| {
        users.as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (id_of("admin@example.org"), id_of("second@example.org"));
    for _ in 0..5 {
        let demote_a = [("user_id", a.as_str()), ("role", "trainer")];
        let demote_b = [("user_id", b.as_str()), ("role", "trainer")];
        let (ra, rb) = tokio::join!(
            app.call(&first, "users/set_role", &demote_a),
            app.call(&second, "users/set_role", &demote_b)
        );
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        assert_eq!(count(&app, "select count(*) from users where role = 'admin'").await, 1, "{statuses:?}");
        statuses.sort();
        assert_eq!(statuses, [200, 409], "one demoted, the other refused");
        // The one left makes the other admin again for the next round.
        let a_left = count(&app, &format!("select count(*) from users where role = 'admin' and id = '{a}'"))
            .await
            == 1;
        let (left, other) = if a_left { (&first, &b) } else { (&second, &a) };
        app.call_ok(left, "users/set_role", &[("user_id", other.as_str()), ("role", "admin")]).await;
    }
    let last = [("user_id", a.as_str()), ("role", "trainer")];
    app.call_ok(&first, "users/set_role", &[("user_id", b.as_str()), ("role", "trainer")]).await;
    let refused = app.call(&first, "users/set_role", &last).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(error_body(refused).await["field"], "role");
}
on_both_engines!(two_admins_demoting_themselves_leave_one);

async fn only_the_holder_gives_a_verdict(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let rita = app.user(&admin, "rita@example.org", "reviewer").await;
    let rex = app.user(&admin, "rex@example.org", "reviewer").await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let demo = id();
    app.call_ok(&ada, "conversations/create", &[("request_id", &demo), ("kind", "demonstration")]).await;
    let turn = id();
    let form = [
        ("conversation_id", demo.as_str()),
        ("request_id", &turn),
        ("role", "user"),
        ("text", "Capital of France?"),
    ];
    app.call_ok(&ada, "conversations/add_message", &form).await;
    app.call_ok(&ada, "conversations/submit", &[("conversation_id", &demo), ("request_id", &id())]).await;
    let held = app.call_ok(&rita, "review/next", &[]).await;
    assert_eq!(held["conversation"]["id"], demo.as_str());
    assert_eq!(app.call_ok(&rex, "review/next", &[]).await, Value::Null, "held by Rita");

    let verdict = |request: &str, revision: i64| json!({ "request_id": request, "conversation_id": demo, "revision": revision, "verdict": "accepted" });
    let post = |client: &reqwest::Client, body: Value| {
        let request = client.post(app.url("/api/review/submit")).json(&body);
        async move { request.send().await.unwrap() }
    };
    // Rex does not hold it; a conversation nobody queued, a wrong revision and a made-up id
    // answer exactly alike.
    let not_held = error_body(post(&rex, verdict(&id(), 1)).await).await;
    assert_eq!(not_held["field"], "conversation_id");
    let unknown =
        json!({ "request_id": id(), "conversation_id": id(), "revision": 1, "verdict": "accepted" });
    let reply = post(&rex, unknown).await;
    assert_eq!(reply.status(), 409);
    assert_eq!(error_body(reply).await["message"], not_held["message"]);
    let reply = post(&rita, verdict(&id(), 2)).await;
    assert_eq!(reply.status(), 409, "not the queued revision");

    // Rita's verdict sent twice at once, and Rex's at the same moment: one stored, hers.
    let request = id();
    let (a, b, c) = tokio::join!(
        post(&rita, verdict(&request, 1)),
        post(&rita, verdict(&request, 1)),
        post(&rex, verdict(&id(), 1))
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16(), c.status().as_u16()), (200, 200, 409));
    assert_eq!(count(&app, "select count(*) from reviews").await, 1);
    // Rex cannot read her verdict back by its id.
    let reply = post(&rex, verdict(&request, 1)).await;
    assert_eq!(reply.status(), 409);
    assert_eq!(error_body(reply).await["message"], not_held["message"]);
}
on_both_engines!(only_the_holder_gives_a_verdict);

//! Every server function and page checks the caller's role: 401 for nobody, 403 for a role
//! that falls short, with a JSON error body.

mod common;
use common::{Engine, TestApp, error_body};

const PASSWORD: &str = "correct horse battery";

async fn trainer_cannot_use_admin_functions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let trainer = app.user(&admin, "trainer@example.org", "trainer").await;
    let anonymous = app.client();
    let id = uuid::Uuid::new_v4().to_string();
    let some_user = uuid::Uuid::new_v4().to_string();
    let calls: [(&str, Vec<(&str, &str)>); 3] = [
        ("users/list", vec![]),
        (
            "users/create",
            vec![("request_id", &id), ("email", "x@example.org"), ("password", PASSWORD), ("role", "admin")],
        ),
        ("users/set_role", vec![("user_id", &some_user), ("role", "admin")]),
    ];
    for (function, form) in &calls {
        let reply = app.call(&trainer, function, form).await;
        assert_eq!(reply.status(), 403, "{function}");
        let body = error_body(reply).await;
        assert_eq!(body["error"], "forbidden", "{function}");
        assert!(body["message"].as_str().unwrap().contains("admin"), "{body}");

        let reply = app.call(&anonymous, function, form).await;
        assert_eq!(reply.status(), 401, "{function}");
        assert_eq!(error_body(reply).await["error"], "unauthenticated", "{function}");
    }
    let counts = app.call(&anonymous, "home/my_counts", &[]).await;
    assert_eq!(counts.status(), 401);
    let counts = app.call(&trainer, "home/my_counts", &[]).await;
    assert_eq!(counts.status(), 200);
    assert_eq!(
        counts.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"demonstrations": 0, "rankings": 0, "feedback": 0})
    );
}
on_both_engines!(trainer_cannot_use_admin_functions);

async fn pages_are_guarded_by_role(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let fresh = app.client().get(app.url("/admin")).send().await.unwrap();
    assert_eq!(fresh.status(), 303);
    assert_eq!(fresh.headers()["location"], "/setup");

    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let reviewer = app.user(&admin, "reviewer@example.org", "reviewer").await;
    let trainer = app.user(&admin, "trainer@example.org", "trainer").await;

    let anonymous = app.client().get(app.url("/admin")).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/login?next=/admin");

    for (client, path, status) in [
        (&trainer, "/admin", 403),
        (&trainer, "/datasets", 403),
        (&trainer, "/review", 403),
        (&trainer, "/write", 200),
        (&reviewer, "/review", 200),
        (&trainer, "/stats", 403),
        (&trainer, "/progress", 200),
        (&trainer, "/leaderboard", 200),
        (&reviewer, "/stats", 200),
        (&reviewer, "/admin", 403),
        (&admin, "/admin", 200),
        (&admin, "/datasets", 200),
    ] {
        let reply = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(reply.status(), status, "{path}");
    }
    let page = trainer.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("trainer@example.org"), "home page shows who is signed in");
    assert!(page.contains("href=\"/write\""));
    assert!(!page.contains("href=\"/admin\""), "trainer navigation has no Admin link");
}
on_both_engines!(pages_are_guarded_by_role);

async fn admin_creates_accounts_and_changes_roles(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let id = uuid::Uuid::new_v4().to_string();
    let form = [
        ("request_id", id.as_str()),
        ("email", "ben@example.org"),
        ("password", PASSWORD),
        ("role", "trainer"),
    ];
    let first = app.call(&admin, "users/create", &form).await;
    assert_eq!(first.status(), 200);
    let ben = first.json::<serde_json::Value>().await.unwrap();
    // The same submit again (a double click) stores nothing new.
    let again = app.call(&admin, "users/create", &form).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<serde_json::Value>().await.unwrap()["id"], ben["id"]);
    // A new submit with a taken e-mail is a conflict on the e-mail field.
    let other = uuid::Uuid::new_v4().to_string();
    let taken = app
        .call(
            &admin,
            "users/create",
            &[
                ("request_id", &other),
                ("email", "BEN@example.org"),
                ("password", PASSWORD),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(taken.status(), 409);
    assert_eq!(error_body(taken).await["field"], "email");

    let ben_id = ben["id"].as_str().unwrap();
    let promoted = app.call(&admin, "users/set_role", &[("user_id", ben_id), ("role", "reviewer")]).await;
    assert_eq!(promoted.json::<serde_json::Value>().await.unwrap()["role"], "reviewer");
    let users = app.call(&admin, "users/list", &[]).await.json::<Vec<serde_json::Value>>().await.unwrap();
    assert_eq!(users.len(), 2);

    let me = app.call(&admin, "auth/current_user", &[]).await.json::<serde_json::Value>().await.unwrap();
    let demote_self = app
        .call(&admin, "users/set_role", &[("user_id", me["id"].as_str().unwrap()), ("role", "trainer")])
        .await;
    assert_eq!(demote_self.status(), 409, "the last admin keeps the role");
    let bad_role = app.call(&admin, "users/set_role", &[("user_id", ben_id), ("role", "owner")]).await;
    assert_eq!(bad_role.status(), 400);
}
on_both_engines!(admin_creates_accounts_and_changes_roles);

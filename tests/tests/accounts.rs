//! First-run set-up, sign-in, sign-out and sessions, through the real binary on both engines.

mod common;
use common::{Engine, TestApp, error_body};

const ADMIN: &str = "admin@example.org";
const PASSWORD: &str = "correct horse battery";

async fn first_admin_is_offered_only_on_a_fresh_install(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let anonymous = app.client();
    let status = app.call(&anonymous, "auth/setup_status", &[]).await;
    assert_eq!(status.text().await.unwrap(), "true");

    let admin = app.first_admin(ADMIN, PASSWORD).await;
    let me = app.call(&admin, "auth/current_user", &[]).await.json::<serde_json::Value>().await.unwrap();
    assert_eq!(me["email"], ADMIN);
    assert_eq!(me["role"], "admin");

    let status = app.call(&anonymous, "auth/setup_status", &[]).await;
    assert_eq!(status.text().await.unwrap(), "false");
    let id = uuid::Uuid::new_v4().to_string();
    let second = app.create_first_admin(&anonymous, &id, "eve@example.org", PASSWORD).await;
    assert_eq!(second.status(), 409);
    assert_eq!(error_body(second).await["error"], "conflict");
}
on_both_engines!(first_admin_is_offered_only_on_a_fresh_install);

async fn retried_first_admin_submit_is_stored_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let id = uuid::Uuid::new_v4().to_string();
    let form = [("request_id", id.as_str()), ("email", ADMIN), ("password", PASSWORD)];
    let (first, second) = (app.client(), app.client());
    let (a, b) = tokio::join!(
        app.call(&first, "auth/create_first_admin", &form),
        app.call(&second, "auth/create_first_admin", &form)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    // A double click: both get the one admin the first made.
    assert_eq!(statuses, [200, 200]);
    let retry = app.call(&app.client(), "auth/create_first_admin", &form).await;
    assert_eq!(retry.status(), 200);
    let admin = app.sign_in(ADMIN, PASSWORD).await;
    let users = app.call(&admin, "users/list", &[]).await.json::<Vec<serde_json::Value>>().await.unwrap();
    assert_eq!(users.len(), 1);
}
on_both_engines!(retried_first_admin_submit_is_stored_once);

async fn login_sets_an_httponly_samesite_session_cookie(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.first_admin(ADMIN, PASSWORD).await;
    let client = app.client();
    let reply = app
        .call(
            &client,
            "auth/login",
            &[("email", "Admin@Example.org "), ("password", PASSWORD), ("next", "/admin")],
        )
        .await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["location"], "/admin");
    let cookie = reply.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("parley_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}
on_both_engines!(login_sets_an_httponly_samesite_session_cookie);

async fn bad_login_is_refused_then_rate_limited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.first_admin(ADMIN, PASSWORD).await;
    let client = app.client();
    for _ in 0..5 {
        let reply =
            app.call(&client, "auth/login", &[("email", ADMIN), ("password", "wrong password!")]).await;
        assert_eq!(reply.status(), 401);
        let body = error_body(reply).await;
        assert_eq!(body["error"], "bad_credentials");
        assert_eq!(body["message"], "wrong e-mail or password");
    }
    // Even the right password is refused while the limit holds.
    let reply = app.call(&client, "auth/login", &[("email", ADMIN), ("password", PASSWORD)]).await;
    assert_eq!(reply.status(), 429);
    let retry_after: u64 = reply.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
    assert_eq!(error_body(reply).await["error"], "rate_limited");
}
on_both_engines!(bad_login_is_refused_then_rate_limited);

async fn unknown_email_gets_the_same_answer_as_a_wrong_password(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.first_admin(ADMIN, PASSWORD).await;
    let reply = app
        .call(&app.client(), "auth/login", &[("email", "nobody@example.org"), ("password", PASSWORD)])
        .await;
    assert_eq!(reply.status(), 401);
    assert_eq!(error_body(reply).await["message"], "wrong e-mail or password");
}
on_both_engines!(unknown_email_gets_the_same_answer_as_a_wrong_password);

async fn logout_ends_the_session_on_the_server(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.first_admin(ADMIN, PASSWORD).await;
    let client = app.client();
    let reply = app.call(&client, "auth/login", &[("email", ADMIN), ("password", PASSWORD)]).await;
    let cookie = reply.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let out = app.call(&client, "auth/logout", &[]).await;
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    // Replaying the old cookie by hand must not work either.
    let replay = reqwest::Client::new()
        .post(app.url("/api/users/list"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
}
on_both_engines!(logout_ends_the_session_on_the_server);

async fn weak_password_and_bad_email_name_the_field(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let client = app.client();
    let id = uuid::Uuid::new_v4().to_string();
    let weak = app.create_first_admin(&client, &id, ADMIN, "short").await;
    assert_eq!(weak.status(), 422);
    let body = error_body(weak).await;
    assert_eq!(body["field"], "password");
    assert!(body["message"].as_str().unwrap().contains("at least 10"), "{body}");

    let bad = app.create_first_admin(&client, &id, "not-an-email", PASSWORD).await;
    assert_eq!(bad.status(), 422);
    assert_eq!(error_body(bad).await["field"], "email");

    let long = format!("{}@example.org", "a".repeat(300));
    let oversized = app.create_first_admin(&client, &id, &long, PASSWORD).await;
    assert_eq!(oversized.status(), 413);
    assert_eq!(error_body(oversized).await["field"], "email");
    // Nothing was stored by the refused attempts.
    let status = app.call(&client, "auth/setup_status", &[]).await;
    assert_eq!(status.text().await.unwrap(), "true");
}
on_both_engines!(weak_password_and_bad_email_name_the_field);

#[tokio::test]
async fn missing_arguments_are_a_bad_request_not_a_server_error() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let reply = app.call(&app.client(), "auth/login", &[("email", ADMIN)]).await;
    assert_eq!(reply.status(), 400);
    assert_eq!(error_body(reply).await["error"], "bad_request");
}

#[tokio::test]
async fn oversized_request_body_is_refused_before_it_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(Engine::Sqlite).await;
    // Only the headers are sent: the server must answer from the declared length alone.
    let host = app.base.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&host).await.unwrap();
    let request = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        2 * 1024 * 1024
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains(r#""error":"too_large""#), "{reply}");
}

/// The id of the account with this e-mail, as the admin's list shows it.
async fn user_id(app: &TestApp, admin: &reqwest::Client, email: &str) -> String {
    let users = app.call_ok(admin, "users/list", &[]).await;
    let user = users.as_array().unwrap().iter().find(|u| u["email"] == email).expect("listed");
    user["id"].as_str().unwrap().to_string()
}

async fn deactivated_accounts_lose_their_sessions_and_cannot_sign_in(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin(ADMIN, PASSWORD).await;
    let trainer_password = "a long enough passphrase";
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ada_elsewhere = app.sign_in("ada@example.org", trainer_password).await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let ada_id = user_id(&app, &admin, "ada@example.org").await;
    assert_eq!(app.call(&ada, "conversations/mine", &[]).await.status(), 200);

    // Only admins deactivate.
    let by_trainer = app.call(&ben, "users/set_active", &[("user_id", &ada_id), ("active", "false")]).await;
    assert_eq!(by_trainer.status(), 403);
    let off = app.call_ok(&admin, "users/set_active", &[("user_id", &ada_id), ("active", "false")]).await;
    assert!(off["deactivated_at"].is_string(), "{off}");
    // Every session ends at once, on every machine.
    for client in [&ada, &ada_elsewhere] {
        assert_eq!(app.call(client, "conversations/mine", &[]).await.status(), 401);
    }
    let refused = app
        .call(&app.client(), "auth/login", &[("email", "ada@example.org"), ("password", trainer_password)])
        .await;
    assert_eq!(refused.status(), 403);
    assert!(error_body(refused).await["message"].as_str().unwrap().contains("deactivated"));
    // A wrong password is told nothing more than a wrong password.
    let wrong = app
        .call(&app.client(), "auth/login", &[("email", "ada@example.org"), ("password", "not her password")])
        .await;
    assert_eq!(error_body(wrong).await["message"], "wrong e-mail or password");

    app.call_ok(&admin, "users/set_active", &[("user_id", &ada_id), ("active", "true")]).await;
    let ada = app.sign_in("ada@example.org", trainer_password).await;
    assert_eq!(app.call(&ada, "conversations/mine", &[]).await.status(), 200);

    // The last active admin stays: refused by name.
    let admin_id = user_id(&app, &admin, ADMIN).await;
    let last = app.call(&admin, "users/set_active", &[("user_id", &admin_id), ("active", "false")]).await;
    assert_eq!(last.status(), 409);
    assert_eq!(error_body(last).await["field"], "user_id");

    // Two admins deactivating each other, 10 times each at once: one of them stays.
    let eve = app.user(&admin, "eve@example.org", "admin").await;
    let eve_id = user_id(&app, &admin, "eve@example.org").await;
    let shared = &app;
    let attempts = (0..20).map(|i| {
        let (client, target) = if i % 2 == 0 { (&admin, eve_id.clone()) } else { (&eve, admin_id.clone()) };
        async move {
            let form = [("user_id", target.as_str()), ("active", "false")];
            shared.call(client, "users/set_active", &form).await.status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| [200, 401, 409].contains(&s.as_u16())), "{statuses:?}");
    let survivor = if app.call(&admin, "users/list", &[]).await.status() == 200 { &admin } else { &eve };
    let users = app.call_ok(survivor, "users/list", &[]).await;
    let active_admins = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "admin" && u["deactivated_at"].is_null())
        .count();
    assert_eq!(active_admins, 1, "{users}");
}
on_both_engines!(deactivated_accounts_lose_their_sessions_and_cannot_sign_in);

async fn passwords_are_changed_by_their_owner_and_reset_once_by_an_admin(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin(ADMIN, PASSWORD).await;
    let first = "a long enough passphrase";
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ada_elsewhere = app.sign_in("ada@example.org", first).await;

    // The current password first, named when wrong; the new one checked like any other.
    let wrong = app
        .call(
            &ada,
            "auth/change_password",
            &[("current_password", "not it at all"), ("new_password", "another fine passphrase")],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_body(wrong).await["field"], "current_password");
    let weak = app
        .call(&ada, "auth/change_password", &[("current_password", first), ("new_password", "short")])
        .await;
    assert_eq!(weak.status(), 422);
    assert_eq!(error_body(weak).await["field"], "new_password");
    let second = "another fine passphrase";
    app.call_ok(&ada, "auth/change_password", &[("current_password", first), ("new_password", second)]).await;
    // This session stays; the other one ends; the old password no longer works.
    assert_eq!(app.call(&ada, "conversations/mine", &[]).await.status(), 200);
    assert_eq!(app.call(&ada_elsewhere, "conversations/mine", &[]).await.status(), 401);
    let old =
        app.call(&app.client(), "auth/login", &[("email", "ada@example.org"), ("password", first)]).await;
    assert_eq!(old.status(), 401);

    // An admin gives a one-time password: Ada's sessions end; signed in with it, she must
    // choose her own before anything else.
    let ada_id = user_id(&app, &admin, "ada@example.org").await;
    let by_trainer = app.call(&ada, "users/reset_password", &[("user_id", &ada_id)]).await;
    assert_eq!(by_trainer.status(), 403);
    let made = app.call_ok(&admin, "users/reset_password", &[("user_id", &ada_id)]).await;
    let one_time = made["password"].as_str().unwrap().to_string();
    assert_eq!(made["email"], "ada@example.org");
    assert_eq!(app.call(&ada, "conversations/mine", &[]).await.status(), 401);
    let client = app.client();
    let login =
        app.call(&client, "auth/login", &[("email", "ada@example.org"), ("password", &one_time)]).await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["location"], "/account");
    let blocked = app.call(&client, "conversations/mine", &[]).await;
    assert_eq!(blocked.status(), 403);
    assert_eq!(error_body(blocked).await["field"], "password");
    let page = client.get(app.url("/write")).send().await.unwrap();
    assert!(page.status().is_redirection(), "{}", page.status());
    assert_eq!(page.headers()["location"], "/account");
    let third = "my very own passphrase";
    app.call_ok(&client, "auth/change_password", &[("current_password", &one_time), ("new_password", third)])
        .await;
    assert_eq!(app.call(&client, "conversations/mine", &[]).await.status(), 200);
    let listed = app.call_ok(&admin, "users/list", &[]).await;
    let row = listed.as_array().unwrap().iter().find(|u| u["email"] == "ada@example.org").unwrap().clone();
    assert_eq!(row["must_change_password"], false);
}
on_both_engines!(passwords_are_changed_by_their_owner_and_reset_once_by_an_admin);

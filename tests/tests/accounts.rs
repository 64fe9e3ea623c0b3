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

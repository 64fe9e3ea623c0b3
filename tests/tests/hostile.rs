//! Hostile and careless input over the write endpoints, on SQLite and PostgreSQL: a corpus
//! of texts (NUL, invalid UTF-8, zero-width and RTL text, markup meant to run, SQL
//! meta-characters, sizes just over each limit and ten times over) sent to every form that
//! stores text, malformed and deep JSON, and uploads (5 MB and 50 MB, multi-member and
//! damaged gzip). The server never answers 5xx, a refused call stores nothing (row counts
//! before and after), and text that comes back in a page is escaped.

mod common;
use common::{Engine, TestApp};
use serde_json::Value;
use std::io::Write;

const PASSWORD: &str = "correct horse battery";
const LIMIT: usize = 32 * 1024;

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Each hostile text, and whether it must be refused (true) or may be stored as text.
fn corpus() -> Vec<(&'static str, Vec<u8>, bool)> {
    let s = |t: &str| t.as_bytes().to_vec();
    vec![
        ("nul", s("before\0after"), true),
        ("only nul", s("\0"), true),
        ("invalid utf-8", vec![b'o', b'k', 0xff, 0xfe], true),
        ("lone surrogate bytes", vec![0xed, 0xa0, 0x80], true),
        ("zero-width only", s("\u{200b}\u{200b}\u{feff}"), true),
        ("spaces only", s("   \n\t "), true),
        ("just over the limit", vec![b'a'; LIMIT + 1], true),
        ("ten times the limit", vec![b'a'; LIMIT * 10], true),
        ("script", s("</textarea><script>alert('x')</script>"), false),
        ("markup", s("<img src=x onerror=alert(1)><b>bold</b>"), false),
        ("sql", s("'; drop table users; -- \" or 1=1 /*"), false),
        ("rtl", s("\u{202e}txet desrever\u{202c} and עברית"), false),
        ("zero-width inside", s("pass\u{200b}word"), false),
        ("emoji", s("👩‍👩‍👧 🏳️‍🌈"), false),
        ("at the limit", vec![b'b'; LIMIT], false),
        ("percent", s("100% %00 %ff %"), false),
        ("newlines", s("a\r\nb\rc\n"), false),
    ]
}

/// A form body with one field's raw bytes percent-encoded as they are (invalid UTF-8 too).
fn form(fields: &[(&str, &[u8])]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            let value: String = value.iter().map(|b| format!("%{b:02X}")).collect();
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_form(app: &TestApp, client: &reqwest::Client, function: &str, body: String) -> (u16, String) {
    let reply = client
        .post(app.url(&format!("/api/{function}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap_or_default())
}

async fn rows(app: &TestApp) -> Vec<i64> {
    let mut db = app.connect_db().await;
    let mut counts = vec![];
    for table in [
        "conversations",
        "messages",
        "feedback",
        "api_keys",
        "guidelines",
        "content_policies",
        "imports",
        "prompts",
        "users",
        "settings",
    ] {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
            .fetch_one(&mut db)
            .await
            .unwrap_or((-1,));
        counts.push(n);
    }
    counts
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn hostile_input_is_refused_by_name_or_stored_as_text(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let demo = id();
    app.call_ok(&ada, "conversations/create", &[("request_id", &demo), ("kind", "demonstration")]).await;
    let mut cases = 0;

    for (name, text, refused) in corpus() {
        // Every endpoint that stores a text of a trainer's or an admin's.
        let calls: Vec<(&reqwest::Client, &str, String)> = vec![
            (
                &ada,
                "conversations/add_message",
                form(&[
                    ("conversation_id", demo.as_bytes()),
                    ("request_id", id().as_bytes()),
                    ("role", &b"user"[..]),
                    ("text", &text),
                ]),
            ),
            (
                &ada,
                "conversations/create",
                form(&[
                    ("request_id", id().as_bytes()),
                    ("kind", &b"demonstration"[..]),
                    ("system_prompt", &text),
                ]),
            ),
            (&ada, "conversations/mine", form(&[("search", &text)])),
            (&admin, "keys/create", form(&[("request_id", id().as_bytes()), ("name", &text)])),
            (&admin, "guidelines/save", form(&[("area", &b"write"[..]), ("markdown", &text)])),
            (&admin, "feedback/set_categories", form(&[("categories", &text)])),
            (&admin, "filter/save_policy", form(&[("policy", &text)])),
            (
                &admin,
                "users/create",
                form(&[
                    ("request_id", id().as_bytes()),
                    ("email", &[&text[..text.len().min(64)], &b"@example.org"[..]].concat()),
                    ("password", &b"a long enough passphrase"[..]),
                    ("role", &b"trainer"[..]),
                ]),
            ),
            (&ada, "auth/login", form(&[("email", &text), ("password", &b"a long enough passphrase"[..])])),
        ];
        for (client, function, body) in calls {
            let before = rows(&app).await;
            let (status, reply) = post_form(&app, client, function, body).await;
            cases += 1;
            assert!(status < 500, "{function} with {name}: {status} {reply}");
            if status >= 400 {
                assert_eq!(
                    rows(&app).await,
                    before,
                    "{function} with {name}: refused but something was stored"
                );
                let error: Value =
                    serde_json::from_str(&reply).unwrap_or_else(|_| panic!("{function} {name}: {reply}"));
                assert!(error["message"].is_string(), "{function} with {name}: {reply}");
            }
            let nul_or_bad = text.contains(&0) || std::str::from_utf8(&text).is_err();
            if refused && nul_or_bad {
                assert_eq!(status, 422, "{function} with {name}: {reply}");
            }
            if refused && function == "conversations/add_message" {
                assert!(status == 422 || status == 413, "{name}: {status} {reply}");
            }
        }
    }

    // Malformed JSON where JSON is taken: never a 5xx, nothing stored.
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    for body in [
        "",
        "{",
        "null",
        "[]",
        "{\"request_id\": 5}",
        "{\"comparison_id\": \"x\"}",
        deep.as_str(),
        "\"\\u0000\"",
    ] {
        for function in ["rank/submit", "review/submit"] {
            let before = rows(&app).await;
            let reply = ada
                .post(app.url(&format!("/api/{function}")))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            cases += 1;
            assert!(reply.status().as_u16() < 500, "{function} {:.40}: {}", body, reply.status());
            assert_eq!(rows(&app).await, before);
        }
    }

    // Uploads: damaged, trailing garbage, multi-member, big.
    let line = |i: usize| format!("{{\"instruction\": \"Say {i}.\", \"output\": \"{i}.\"}}\n");
    let first: String = (0..3).map(line).collect();
    let second: String = (3..6).map(line).collect();
    let upload = |bytes: Vec<u8>| {
        let request =
            admin.post(app.url(&format!("/api/datasets/import?request_id={}&format=auto", id()))).body(bytes);
        async move {
            let reply = request.send().await.unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut damaged = gzip(first.as_bytes());
    let cut = damaged.len() - 10;
    damaged.truncate(cut);
    let mut trailing = gzip(first.as_bytes());
    trailing.extend(&b"not gzip at all"[..]);
    for (what, bytes) in [("damaged gzip", damaged), ("gzip then garbage", trailing)] {
        let before = rows(&app).await;
        let (status, body) = upload(bytes).await;
        cases += 1;
        assert_eq!(status, 422, "{what}: {body}");
        assert_eq!(body["field"], "file", "{what}: {body}");
        assert_eq!(rows(&app).await, before, "{what}: nothing imported");
    }
    let mut two_members = gzip(first.as_bytes());
    two_members.extend(gzip(second.as_bytes()));
    let (status, body) = upload(two_members).await;
    cases += 1;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversations"], 6, "both gzip members imported: {body}");
    // 5 MB: over axum's 2 MiB default, well under the import limit.
    let long = "word ".repeat(1000);
    let big: String = (0..1_100)
        .map(|i| format!("{{\"instruction\": \"Write {i}.\", \"output\": \"{long}{i}\"}}\n"))
        .collect();
    assert!(big.len() > 5 << 20);
    let (status, body) = upload(big.into_bytes()).await;
    cases += 1;
    assert_eq!(status, 200, "a 5 MB upload imports: {body}");
    // 50 MB of one line: refused by name, never a 5xx.
    let huge = vec![b'x'; 50 << 20];
    let before = rows(&app).await;
    let (status, body) = upload(huge).await;
    cases += 1;
    assert!(status == 422 || status == 413, "{status} {body}");
    assert_eq!(rows(&app).await, before);

    // Stored markup comes back escaped through SSR, textareas included.
    let script = "</textarea><script>alert('guidelines')</script>";
    app.call_ok(&admin, "guidelines/save", &[("area", "chat"), ("markdown", script)]).await;
    for page in ["/admin/guidelines", "/feedback", "/admin/filter"] {
        let html = admin.get(app.url(page)).send().await.unwrap().text().await.unwrap();
        cases += 1;
        assert!(!html.contains("<script>alert("), "{page} renders stored markup raw");
    }
    assert!(cases >= 150, "{cases} hostile cases");
}
on_both_engines!(hostile_input_is_refused_by_name_or_stored_as_text);

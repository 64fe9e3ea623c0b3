//! Who may call what: a table of every server function and plain route with the status each
//! caller gets: nobody signed in, the trainer who owns the objects named, another trainer
//! on those objects, a reviewer, an admin, and an API key (which opens only `/v1`). Where a
//! caller is refused, nothing in the database changes. The list of routes is read from the
//! binary (`parley routes`), so a route added without a row here fails this test.

mod common;
use common::{Engine, TestApp, changed, chat_with_replies, parley_bin, sampled, snapshot, tiny_model};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const PASSWORD: &str = "correct horse battery";
const USER_PASSWORD: &str = "a long enough passphrase";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Owner,
    Other,
    Reviewer,
    Admin,
    Key,
}
use Who::*;
const CALLERS: [Who; 6] = [Anonymous, Owner, Other, Reviewer, Admin, Key];

/// What the test made before the table runs: the owner's conversations, a comparison the
/// other trainer holds, the reviewer's held item, and objects only admins touch.
struct Fixture {
    demo: String,
    demo_user: String,
    demo_reply: String,
    queued: String,
    queued_revision: i64,
    chat: String,
    chat_question: String,
    reply: String,
    comparison: String,
    shown: Vec<String>,
    /// The batch's other comparison, which the other trainer takes next and skips.
    second: String,
    owner_id: String,
    spare_id: String,
    spare_key: String,
    model_version: String,
    filter_category: String,
    filter_policy: String,
    feedback_categories: String,
}

enum Call {
    /// A server function called as a browser form does.
    Form(Vec<(&'static str, String)>),
    /// A server function that takes JSON.
    Json(Value),
    Get(String),
    Post(String, &'static str, Vec<u8>),
}

struct Case {
    /// "METHOD path", as `parley routes` prints it.
    route: String,
    call: Box<dyn Fn(&Fixture, Who) -> Call>,
    /// The status for each of CALLERS, in order.
    expect: [u16; 6],
    /// Signs out the caller: each caller calls it from a session of its own.
    own_session: bool,
}

fn function(name: &str, expect: [u16; 6], call: impl Fn(&Fixture, Who) -> Call + 'static) -> Case {
    Case { route: format!("POST /api/{name}"), call: Box::new(call), expect, own_session: false }
}

fn form(fields: &[(&'static str, &str)]) -> Call {
    Call::Form(fields.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

fn plain(method: &str, path: &str, expect: [u16; 6], call: impl Fn(&Fixture, Who) -> Call + 'static) -> Case {
    Case { route: format!("{method} {path}"), call: Box::new(call), expect, own_session: false }
}

// Rows of statuses, by caller: anonymous, owner, other trainer, reviewer, admin, API key.
const EVERYONE: [u16; 6] = [200, 200, 200, 200, 200, 200];
const SIGNED_IN: [u16; 6] = [401, 200, 200, 200, 200, 401];
/// On the owner's conversation: readers are its owner, reviewers and admins; another
/// trainer is told it does not exist.
const READERS: [u16; 6] = [401, 200, 404, 200, 200, 401];
/// Only the owner changes it; reviewers and admins may read it, so they are told why not.
const OWNER: [u16; 6] = [401, 200, 404, 403, 403, 401];
const REVIEWERS: [u16; 6] = [401, 403, 403, 200, 200, 401];
const ADMINS: [u16; 6] = [401, 403, 403, 403, 200, 401];
const KEY_ONLY: [u16; 6] = [401, 401, 401, 401, 401, 200];

fn table() -> Vec<Case> {
    let mut cases = vec![
        // Signing in and out, open to all.
        function("auth/setup_status", EVERYONE, |_, _| form(&[])),
        function("auth/current_user", EVERYONE, |_, _| form(&[])),
        function("auth/login", [401; 6], |_, who| {
            Call::Form(vec![
                ("email", format!("nobody-{who:?}@example.org")),
                ("password", "wrong one".into()),
            ])
        }),
        function("auth/create_first_admin", [409; 6], |_, _| {
            Call::Form(vec![
                ("request_id", id()),
                ("email", format!("{}@example.org", id())),
                ("password", PASSWORD.into()),
            ])
        }),
        Case { own_session: true, ..function("auth/logout", EVERYONE, |_, _| form(&[])) },
        // A wrong current password changes nothing, for anyone.
        function("auth/change_password", [401; 6], |_, _| {
            form(&[
                ("current_password", "not the password at all"),
                ("new_password", "a different passphrase"),
            ])
        }),
        // Any signed-in user.
        function("home/my_counts", SIGNED_IN, |_, _| form(&[])),
        function("model/status", SIGNED_IN, |_, _| form(&[])),
        function("guidelines/get", SIGNED_IN, |_, _| form(&[("area", "write")])),
        function("feedback/categories", SIGNED_IN, |_, _| form(&[])),
        function("filter/categories", SIGNED_IN, |_, _| form(&[])),
        function("feedback/list", SIGNED_IN, |_, _| form(&[])),
        function("conversations/mine", SIGNED_IN, |_, _| form(&[])),
        function("conversations/create", SIGNED_IN, |_, _| {
            Call::Form(vec![("request_id", id()), ("kind", "demonstration".into())])
        }),
        function("rank/mine", SIGNED_IN, |_, _| form(&[])),
        function("review/mine", SIGNED_IN, |_, _| form(&[])),
        function("stats/leaderboard", SIGNED_IN, |_, _| form(&[])),
        function("datasets/random_prompt", SIGNED_IN, |_, _| form(&[])),
        // Progress: one's own, or anyone's for reviewers and admins.
        function("stats/progress", [401, 200, 403, 200, 200, 401], |f, _| {
            form(&[("user_id", f.owner_id.as_str())])
        }),
        // The owner's conversations.
        function("conversations/get", READERS, |f, _| form(&[("conversation_id", f.demo.as_str())])),
        function("conversations/history", READERS, |f, _| form(&[("conversation_id", f.demo.as_str())])),
        function("review/of", READERS, |f, _| form(&[("conversation_id", f.demo.as_str())])),
        function("feedback/save", READERS, |f, _| {
            form(&[
                ("target_kind", "message"),
                ("target_id", f.reply.as_str()),
                ("conversation_id", f.chat.as_str()),
                ("thumbs", "1"),
            ])
        }),
        function("filter/feedback", READERS, |f, _| {
            form(&[
                ("conversation_id", f.chat.as_str()),
                ("message_id", f.reply.as_str()),
                ("kind", "false_negative"),
                ("category", f.filter_category.as_str()),
            ])
        }),
        function("conversations/add_message", OWNER, |f, _| {
            Call::Form(vec![
                ("conversation_id", f.demo.clone()),
                ("request_id", id()),
                ("parent_id", f.demo_reply.clone()),
                ("role", "user".into()),
                ("text", "And one more question?".into()),
            ])
        }),
        function("conversations/edit_message", OWNER, |f, _| {
            form(&[
                ("conversation_id", f.demo.as_str()),
                ("message_id", f.demo_reply.as_str()),
                ("text", "Edited."),
            ])
        }),
        function("conversations/rearrange", OWNER, |f, _| {
            form(&[
                ("conversation_id", f.demo.as_str()),
                ("order[0]", f.demo_user.as_str()),
                ("order[1]", f.demo_reply.as_str()),
            ])
        }),
        function("conversations/save_composer", OWNER, |f, _| {
            form(&[("conversation_id", f.demo.as_str()), ("text", "a draft")])
        }),
        function("conversations/set_sampling", OWNER, |f, _| {
            form(&[("conversation_id", f.chat.as_str()), ("temperature", "0.5")])
        }),
        function("conversations/stop_suggestion", OWNER, |f, _| {
            Call::Form(vec![("conversation_id", f.demo.clone()), ("request_id", id()), ("index", "0".into())])
        }),
        function("conversations/submit", OWNER, |f, _| {
            Call::Form(vec![("conversation_id", f.demo.clone()), ("request_id", id())])
        }),
        // Ranking: the other trainer holds the comparison; the owner is never given their
        // own replies, and neither they nor reviewers and admins hold it: each of them is
        // told so alike. Then the other trainer takes the second comparison and skips it.
        // Only the holder keeps a draft of its board; to the others it does not exist.
        function("rank/save_draft", [401, 404, 200, 404, 404, 401], |f, _| {
            let groups: Vec<Vec<&String>> = f.shown.iter().map(|c| vec![c]).collect();
            Call::Json(json!({
                "comparison_id": f.comparison, "draft": { "board": { "groups": groups, "unranked": [] } },
            }))
        }),
        function("rank/submit", [401, 409, 200, 409, 409, 401], |f, _| {
            let ranking: Vec<Vec<&String>> = f.shown.iter().map(|c| vec![c]).collect();
            Call::Json(json!({
                "request_id": id(), "comparison_id": f.comparison, "ranking": ranking, "shown": f.shown,
            }))
        }),
        function("rank/task", SIGNED_IN, |_, _| form(&[])),
        function("rank/skip", [401, 409, 200, 409, 409, 401], |f, _| {
            form(&[("comparison_id", f.second.as_str())])
        }),
        // Reviewing.
        function("review/policy", REVIEWERS, |_, _| form(&[])),
        function("review/next", REVIEWERS, |_, _| form(&[])),
        function("stats/dashboard", REVIEWERS, |_, _| form(&[])),
        function("stats/reward", REVIEWERS, |_, _| form(&[])),
        function("review/doubtful", REVIEWERS, |_, _| form(&[])),
        // Reviewers get past the role check and are told no run found the ranking doubtful.
        function("review/judge_ranking", [401, 403, 403, 404, 404, 401], |_, _| {
            Call::Form(vec![("request_id", id()), ("ranking_id", id()), ("verdict", "set_aside".into())])
        }),
        // Only the reviewer holding the item gives its verdict.
        function("review/submit", [401, 403, 403, 200, 409, 401], |f, _| {
            Call::Json(json!({
                "request_id": id(), "conversation_id": f.queued, "revision": f.queued_revision,
                "verdict": "accepted",
            }))
        }),
        // Admins.
        function("review/set_policy", ADMINS, |_, _| form(&[("first", "20"), ("share_percent", "10")])),
        function("users/list", ADMINS, |_, _| form(&[])),
        function("users/create", ADMINS, |_, _| {
            Call::Form(vec![
                ("request_id", id()),
                ("email", format!("{}@example.org", id())),
                ("password", USER_PASSWORD.into()),
                ("role", "trainer".into()),
            ])
        }),
        function("users/set_role", ADMINS, |f, _| {
            form(&[("user_id", f.spare_id.as_str()), ("role", "trainer")])
        }),
        function("users/set_active", ADMINS, |f, _| {
            form(&[("user_id", f.spare_id.as_str()), ("active", "true")])
        }),
        function("users/reset_password", ADMINS, |f, _| form(&[("user_id", f.spare_id.as_str())])),
        function("keys/list", ADMINS, |_, _| form(&[])),
        function("keys/create", ADMINS, |_, _| {
            Call::Form(vec![("request_id", id()), ("name", "authz".into())])
        }),
        function("keys/revoke", ADMINS, |f, _| form(&[("key_id", f.spare_key.as_str())])),
        function("model/list", ADMINS, |_, _| form(&[])),
        function("model/set_active", ADMINS, |f, _| form(&[("model_version_id", f.model_version.as_str())])),
        function("guidelines/save", ADMINS, |_, _| form(&[("area", "write"), ("markdown", "Be kind.")])),
        function("feedback/set_categories", ADMINS, |f, _| {
            form(&[("categories", f.feedback_categories.as_str())])
        }),
        function("filter/overview", ADMINS, |_, _| form(&[])),
        function("filter/decisions", ADMINS, |_, _| form(&[])),
        function("filter/save_policy", ADMINS, |f, _| form(&[("policy", f.filter_policy.as_str())])),
        function("datasets/imports", ADMINS, |_, _| form(&[])),
        function("rank/batches", ADMINS, |_, _| form(&[])),
        function("reward/runs", ADMINS, |_, _| form(&[])),
        // An admin gets past the role check to the options' (a run started here would write
        // in the background while other rows are checked for writes).
        function("reward/start", [401, 403, 403, 403, 422, 401], |_, _| {
            Call::Form(vec![
                ("request_id", id()),
                ("split_seed", "7".into()),
                ("test_ratio", "0.9".into()),
                ("layers", "1".into()),
            ])
        }),
        // An admin is told the run does not exist.
        function("reward/cancel", [401, 403, 403, 403, 404, 401], |_, _| Call::Form(vec![("id", id())])),
        function("rank/create_batch", ADMINS, |_, _| {
            Call::Form(vec![
                ("request_id", id()),
                ("from_prompts", "true".into()),
                ("size", "1".into()),
                ("k", "2".into()),
                ("overlap", "1".into()),
                ("temperature", "0.7".into()),
                ("max_tokens", "4".into()),
            ])
        }),
    ];
    // The plain routes.
    cases.extend([
        plain("GET", "/healthz", EVERYONE, |_, _| Call::Get("/healthz".into())),
        plain("GET", "/api/generate", SIGNED_IN, |_, _| {
            Call::Get("/api/generate?prompt=Hello&max_tokens=4".into())
        }),
        plain("GET", "/api/conversations/{id}/generate", OWNER, |f, _| {
            Call::Get(format!(
                "/api/conversations/{}/generate?purpose=reply&parent={}&request_id={}",
                f.chat,
                f.chat_question,
                id()
            ))
        }),
        plain("GET", "/v1/models", KEY_ONLY, |_, _| Call::Get("/v1/models".into())),
        plain("POST", "/v1/chat/completions", KEY_ONLY, |_, _| {
            let body = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4});
            Call::Post("/v1/chat/completions".into(), "application/json", body.to_string().into_bytes())
        }),
        plain("POST", "/v1/moderations", KEY_ONLY, |_, _| {
            let body = json!({"input": "Hello"});
            Call::Post("/v1/moderations".into(), "application/json", body.to_string().into_bytes())
        }),
        plain("POST", "/api/datasets/import", ADMINS, |_, _| {
            let line = json!({"instruction": format!("Say hello, {}.", id()), "output": "Hello."});
            Call::Post(
                format!("/api/datasets/import?request_id={}", id()),
                "application/jsonl",
                format!("{line}\n").into_bytes(),
            )
        }),
        plain("GET", "/api/datasets/export", ADMINS, |_, _| {
            Call::Get("/api/datasets/export?format=sft".into())
        }),
    ]);
    cases
}

async fn send(app: &TestApp, client: &reqwest::Client, route: &str, call: Call) -> (u16, String) {
    let name = route.trim_start_matches("POST /api/");
    let request = match call {
        Call::Form(fields) => client.post(app.url(&format!("/api/{name}"))).form(&fields),
        Call::Json(body) => client.post(app.url(&format!("/api/{name}"))).json(&body),
        Call::Get(path) => client.get(app.url(&path)),
        Call::Post(path, content_type, body) => {
            client.post(app.url(&path)).header("content-type", content_type).body(body)
        }
    };
    let reply = request.send().await.expect("request");
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap_or_default())
}

async fn fixture(
    app: &TestApp,
    owner: &reqwest::Client,
    other: &reqwest::Client,
    reviewer: &reqwest::Client,
    admin: &reqwest::Client,
) -> Fixture {
    let demo = id();
    app.call_ok(owner, "conversations/create", &[("request_id", &demo), ("kind", "demonstration")]).await;
    let demo_user = id();
    let turn = [
        ("conversation_id", demo.as_str()),
        ("request_id", &demo_user),
        ("role", "user"),
        ("text", "What is 2 + 2?"),
    ];
    app.call_ok(owner, "conversations/add_message", &turn).await;
    let demo_reply = id();
    let turn = [
        ("conversation_id", demo.as_str()),
        ("request_id", &demo_reply),
        ("parent_id", &demo_user),
        ("role", "assistant"),
        ("text", "4."),
    ];
    app.call_ok(owner, "conversations/add_message", &turn).await;
    // A second demonstration, submitted: the first of a trainer's is queued for review, and
    // the reviewer takes it.
    let queued = id();
    app.call_ok(owner, "conversations/create", &[("request_id", &queued), ("kind", "demonstration")]).await;
    let turn = [
        ("conversation_id", queued.as_str()),
        ("request_id", &id()),
        ("role", "user"),
        ("text", "Name a colour."),
    ];
    let first = app.call_ok(owner, "conversations/add_message", &turn).await;
    let first = first["id"].as_str().unwrap().to_string();
    let turn = [
        ("conversation_id", queued.as_str()),
        ("request_id", &id()),
        ("parent_id", &first),
        ("role", "assistant"),
        ("text", "Blue."),
    ];
    app.call_ok(owner, "conversations/add_message", &turn).await;
    app.call_ok(owner, "conversations/submit", &[("conversation_id", &queued), ("request_id", &id())]).await;
    let item = app.call_ok(reviewer, "review/next", &[]).await;
    assert_eq!(item["conversation"]["id"], queued.as_str());
    let queued_revision = item["conversation"]["revision"].as_i64().unwrap();

    // A chat with the model's reply; a batch drawn from it, which the other trainer holds.
    let (chat, replies) = chat_with_replies(app, owner, 2).await;
    let conversation = app.call_ok(owner, "conversations/get", &[("conversation_id", &chat)]).await;
    let chat_question = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["id"].as_str())
        .unwrap()
        .to_string();
    let batch = [
        ("request_id", id()),
        ("size", "2".into()),
        ("k", "2".into()),
        ("overlap", "1".into()),
        ("temperature", "0.7".into()),
        ("max_tokens", "4".into()),
    ];
    let batch: Vec<(&str, &str)> = batch.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call_ok(admin, "rank/create_batch", &batch).await;
    sampled(app, admin).await;
    let task = app.call_ok(other, "rank/task", &[]).await;
    let comparison =
        task["comparison_id"].as_str().expect("the other trainer gets the comparison").to_string();
    let shown = task["completions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let second = {
        let mut db = app.connect_db().await;
        let (second,): (String,) = sqlx::query_as("select id from comparisons where id <> $1")
            .bind(&comparison)
            .fetch_one(&mut db)
            .await
            .unwrap();
        second
    };
    // Prompts, for a trainer's random prompt and a batch drawn from them.
    let prompts = "\"Name a red fruit.\"\n\"Name a green vegetable.\"\n";
    let url = app.url(&format!("/api/datasets/import?format=prompts&request_id={}", id()));
    assert_eq!(admin.post(url).body(prompts).send().await.unwrap().status(), 200);

    let me = app.call_ok(owner, "auth/current_user", &[]).await;
    let spare = app
        .call_ok(
            admin,
            "users/create",
            &[
                ("request_id", &id()),
                ("email", "spare@example.org"),
                ("password", USER_PASSWORD),
                ("role", "trainer"),
            ],
        )
        .await;
    let spare_key = app.call_ok(admin, "keys/create", &[("request_id", &id()), ("name", "spare")]).await;
    let models = app.call_ok(admin, "model/list", &[]).await;
    let filter = app.call_ok(admin, "filter/overview", &[]).await;
    let categories = app.call_ok(owner, "filter/categories", &[]).await;
    let feedback_categories = app.call_ok(owner, "feedback/categories", &[]).await;
    let feedback_categories: Vec<&str> =
        feedback_categories.as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    Fixture {
        demo,
        demo_user,
        demo_reply,
        queued,
        queued_revision,
        chat,
        chat_question,
        reply: replies[0].clone(),
        comparison,
        shown,
        second,
        owner_id: me["id"].as_str().unwrap().to_string(),
        spare_id: spare["id"].as_str().unwrap().to_string(),
        spare_key: spare_key["key"]["id"].as_str().unwrap().to_string(),
        model_version: models[0]["id"].as_str().unwrap().to_string(),
        filter_category: categories[0].as_str().unwrap().to_string(),
        filter_policy: filter["policy"]["text"].as_str().unwrap().to_string(),
        feedback_categories: feedback_categories.join("\n"),
    }
}

fn with_key(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn every_route_checks_its_caller(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let owner = app.user(&admin, "owner@example.org", "trainer").await;
    let other = app.user(&admin, "other@example.org", "trainer").await;
    let reviewer = app.user(&admin, "reviewer@example.org", "reviewer").await;
    let key = with_key(&app.api_key_for(&admin).await);
    let anonymous = app.client();
    let f = fixture(&app, &owner, &other, &reviewer, &admin).await;

    // Every route the binary serves has a row, and every row a route.
    let out = std::process::Command::new(parley_bin()).arg("routes").output().expect("parley routes");
    assert!(out.status.success(), "parley routes: {}", String::from_utf8_lossy(&out.stderr));
    let served: BTreeSet<String> =
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    let cases = table();
    let tabled: BTreeSet<String> = cases.iter().map(|c| c.route.clone()).collect();
    assert_eq!(cases.len(), tabled.len(), "each route has one row");
    let missing: Vec<&String> = served.difference(&tabled).collect();
    let extra: Vec<&String> = tabled.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without a row: {missing:?}; rows without a route: {extra:?}"
    );

    let emails = [
        None,
        Some("owner@example.org"),
        Some("other@example.org"),
        Some("reviewer@example.org"),
        Some("admin@example.org"),
        None,
    ];
    let mut wrong = vec![];
    for case in &cases {
        // Refused callers first, each checked to have changed nothing; then the others.
        let mut order: Vec<usize> = (0..CALLERS.len()).collect();
        order.sort_by_key(|&i| case.expect[i] < 400);
        for i in order {
            let who = CALLERS[i];
            let session;
            let client = if case.own_session {
                session = match (who, emails[i]) {
                    (_, Some(email)) => {
                        let password = if who == Admin { PASSWORD } else { USER_PASSWORD };
                        app.sign_in(email, password).await
                    }
                    (Key, None) => with_key(&app.api_key_for(&admin).await),
                    _ => app.client(),
                };
                &session
            } else {
                match who {
                    Anonymous => &anonymous,
                    Owner => &owner,
                    Other => &other,
                    Reviewer => &reviewer,
                    Admin => &admin,
                    Key => &key,
                }
            };
            let refused = case.expect[i] >= 400;
            let before = if refused { Some(snapshot(&app).await) } else { None };
            let (status, body) = send(&app, client, &case.route, (case.call)(&f, who)).await;
            if status != case.expect[i] {
                wrong.push(format!(
                    "{} as {who:?}: {status}, expected {}: {}",
                    case.route,
                    case.expect[i],
                    body.chars().take(200).collect::<String>()
                ));
            }
            if let Some(before) = before {
                let after = snapshot(&app).await;
                let writes = changed(&before, &after);
                if !writes.is_empty() {
                    wrong.push(format!(
                        "{} as {who:?} was refused ({status}) but wrote: {writes:?}",
                        case.route
                    ));
                }
            }
            assert!(status < 500, "{} as {who:?}: {status} {body}", case.route);
        }
        // A batch an admin made is sampled in the background: those writes are not a
        // refused caller's.
        sampled(&app, &admin).await;
    }
    assert!(
        wrong.is_empty(),
        "{} of {} calls differ from the table:\n{}",
        wrong.len(),
        cases.len() * CALLERS.len(),
        wrong.join("\n")
    );
}
on_both_engines!(every_route_checks_its_caller);

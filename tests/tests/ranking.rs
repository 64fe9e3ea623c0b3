//! Comparisons end to end through HTTP with the tiny model: an admin draws model replies
//! from chats into a batch whose K completions the background sampler writes; trainers are
//! given one comparison at a time (never their own chat's, never a skipped one), and the
//! server refuses any ranking that is not a complete ordering of exactly the shown
//! completions on a lease the trainer holds, storing nothing; revisions keep the earlier one.

mod common;
use common::{Engine, TestApp, chat_with_replies, error_body, sampled, tiny_model};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn task(app: &TestApp, client: &reqwest::Client, comparison: Option<&str>) -> Value {
    let form: Vec<(&str, &str)> = comparison.map(|c| vec![("comparison_id", c)]).unwrap_or_default();
    app.call_ok(client, "rank/task", &form).await
}

async fn submit(app: &TestApp, client: &reqwest::Client, body: &Value) -> reqwest::Response {
    client.post(app.url("/api/rank/submit")).json(body).send().await.expect("submit")
}

/// The shown completion ids of a task, and a ranking of them: first alone, the middle two
/// tied, the rest one by one.
fn shown_and_ranking(task: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let shown = common::shown_ids(task);
    let ranking =
        vec![vec![shown[0].clone()], vec![shown[1].clone(), shown[2].clone()], vec![shown[3].clone()]];
    (shown, ranking)
}

async fn refused(app: &TestApp, client: &reqwest::Client, body: Value, status: u16, field: &str, says: &str) {
    let reply = submit(app, client, &body).await;
    assert_eq!(reply.status(), status, "{body}");
    let error = error_body(reply).await;
    assert_eq!(error["field"], field, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(says), "{message:?} should say {says:?}");
}

async fn batches_are_sampled_ranked_validated_and_revised(engine: Engine) {
    let model = tiny_model();
    let app =
        TestApp::spawn_with(engine, &["--model", model.to_str().unwrap(), "--rank-lease-secs", "3"]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let tom = app.user(&admin, "tom@example.org", "trainer").await;
    let (_, replies) = chat_with_replies(&app, &ada, 2).await;

    // Only admins create batches; the draw takes what there is.
    let batch = id();
    let form = [
        ("request_id", batch.as_str()),
        ("size", "5"),
        ("k", "4"),
        ("overlap", "1"),
        ("include_original", "true"),
        ("temperature", "0.9"),
        // The drawn replies had 8: the alternatives get that, not this.
        ("max_tokens", "6"),
        ("seed", "42"),
    ];
    assert_eq!(app.call(&ada, "rank/create_batch", &form).await.status(), 403);
    let bad_k = [("k", "12"), ("request_id", batch.as_str())];
    let bad: Vec<(&str, &str)> = form
        .iter()
        .map(|(name, value)| bad_k.iter().find(|(n, _)| n == name).map_or((*name, *value), |b| *b))
        .collect();
    let reply = app.call(&admin, "rank/create_batch", &bad).await;
    assert_eq!(reply.status(), 422);
    assert_eq!(error_body(reply).await["field"], "k");
    let made = app.call_ok(&admin, "rank/create_batch", &form).await;
    assert_eq!((made["comparisons"].as_i64(), made["seed"].as_str()), (Some(2), Some("42")));
    let again = app.call_ok(&admin, "rank/create_batch", &form).await;
    assert_eq!(again["id"], made["id"], "a double-clicked create makes one batch");
    let done = sampled(&app, &admin).await;
    assert_eq!((done["ready"].as_i64(), done["failed"].as_i64()), (Some(2), Some(0)), "{done}");

    // Each completion is stored with what reproduces it; the original is one of the K.
    {
        let mut db = app.connect_db().await;
        let (all, with_model, with_sampling, originals): (i64, i64, i64, i64) = sqlx::query_as(
            "select count(*), count(model_version_id), count(sampling), count(message_id) from completions",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        assert_eq!((all, with_model, with_sampling, originals), (8, 8, 8, 2));
        let seeds: Vec<(String,)> =
            sqlx::query_as("select sampling from completions where message_id is null")
                .fetch_all(&mut db)
                .await
                .unwrap();
        let mut seeds: Vec<u64> = seeds
            .iter()
            .map(|(s,)| serde_json::from_str::<Value>(s).unwrap()["seed"].as_u64().unwrap())
            .collect();
        seeds.sort();
        seeds.dedup();
        assert_eq!(seeds.len(), 6, "every sampled completion has its own seed");
        let budgets: Vec<(String,)> =
            sqlx::query_as("select sampling from completions").fetch_all(&mut db).await.unwrap();
        for (sampling,) in budgets {
            let max_tokens = serde_json::from_str::<Value>(&sampling).unwrap()["max_tokens"].as_u64();
            assert_eq!(max_tokens, Some(8), "the original's budget, for it and beside it: {sampling}");
        }
        let (drawn,): (i64,) =
            sqlx::query_as("select count(*) from comparisons where message_id in ($1, $2)")
                .bind(&replies[0])
                .bind(&replies[1])
                .fetch_one(&mut db)
                .await
                .unwrap();
        assert_eq!(drawn, 2);
    }

    // The chat's owner is not given their own replies; nor is anyone signed out.
    assert_eq!(task(&app, &ada, None).await, Value::Null);
    assert_eq!(app.call(&app.client(), "rank/task", &[]).await.status(), 401);

    let first = task(&app, &ben, None).await;
    let comparison = first["comparison_id"].as_str().unwrap().to_string();
    assert_eq!(first["completions"].as_array().unwrap().len(), 4);
    assert_eq!(first["context"][0]["role"], "user");
    assert_eq!(task(&app, &ben, None).await, first, "the held comparison again, in the same order");
    let (shown, ranking) = shown_and_ranking(&first);

    let body = |ranking: Value| json!({ "request_id": id(), "comparison_id": comparison, "ranking": ranking, "shown": shown });
    let dup = json!([[shown[0]], [shown[1], shown[0]], [shown[2]], [shown[3]]]);
    refused(&app, &ben, body(dup), 422, "ranking", "ranked twice").await;
    let missing = json!([[shown[0]], [shown[1]], [shown[2]]]);
    refused(&app, &ben, body(missing), 422, "ranking", "not ranked").await;
    let foreign = json!([[shown[0]], [shown[1]], [shown[2]], [shown[3], id()]]);
    refused(&app, &ben, body(foreign), 422, "ranking", "was not shown").await;
    let mut wrong_shown = body(json!(ranking));
    wrong_shown["shown"] = json!([shown[0], shown[1], shown[2]]);
    refused(&app, &ben, wrong_shown, 422, "shown", "each completion").await;
    let mut bad_label = body(json!(ranking));
    bad_label["labels"] = json!({ shown[0].clone(): ["wonderful"] });
    refused(&app, &ben, bad_label, 422, "labels", "unknown label").await;
    let mut no_reason = body(json!([]));
    no_reason["cannot_rank"] = json!("  ");
    refused(&app, &ben, no_reason, 422, "cannot_rank", "say why").await;
    let (progress, _) = mine(&app, &ben).await;
    assert_eq!(progress["done_today"], 0, "nothing refused was stored");

    // An unsubmitted board is kept and comes back with the task, as Ben left it (20 saves at
    // once keep one); a draft that does not place exactly these completions, or is too big,
    // is refused by name; Tom, who does not hold it, is told it does not exist.
    let save_draft = |client: &reqwest::Client, draft: Value| {
        let request = client
            .post(app.url("/api/rank/save_draft"))
            .json(&json!({ "comparison_id": comparison, "draft": draft }));
        async move { request.send().await.expect("save draft") }
    };
    let draft = json!({ "board": { "groups": [[shown[1]], [], [shown[0]]], "unranked": [shown[2], shown[3]] }, "rationale": "half done" });
    let saves = futures::future::join_all((0..20).map(|_| save_draft(&ben, draft.clone()))).await;
    assert!(
        saves.iter().all(|r| r.status() == 200),
        "{:?}",
        saves.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    let resumed = task(&app, &ben, None).await;
    assert_eq!(
        (resumed["draft"]["board"].clone(), resumed["draft"]["rationale"].clone()),
        (draft["board"].clone(), json!("half done"))
    );
    let partial = save_draft(&ben, json!({ "board": { "groups": [[shown[0]]], "unranked": [] } })).await;
    assert_eq!(partial.status(), 422);
    assert_eq!(error_body(partial).await["field"], "draft");
    let huge = save_draft(&ben, json!({ "board": draft["board"], "rationale": "x".repeat(70_000) })).await;
    assert_eq!(huge.status(), 413);
    assert_eq!(error_body(huge).await["field"], "draft");
    assert_eq!(save_draft(&tom, draft.clone()).await.status(), 404);

    // A good ranking, with ties, labels and a rationale; a retry stores it once.
    let mut good = body(json!(ranking));
    good["labels"] = json!({ shown[0].clone(): ["helpful", "truthful"], shown[3].clone(): ["flagged"] });
    good["rationale"] = json!("A answers the question.");
    let stored = submit(&app, &ben, &good).await;
    assert_eq!(stored.status(), 200);
    let stored: Value = stored.json().await.unwrap();
    assert_eq!(stored["revision"], 1);
    assert_eq!(stored["ranking"]["groups"], json!(ranking));
    assert_eq!(stored["shown_order"], json!(shown));
    let retried: Value = submit(&app, &ben, &good).await.json().await.unwrap();
    assert_eq!(retried["id"], stored["id"]);
    assert_eq!(retried["revision"], 1);
    assert_eq!(
        task(&app, &ben, Some(&comparison)).await["draft"],
        Value::Null,
        "submitted, the draft is gone"
    );

    // The next one; the queue is then empty for Tom (overlap 1, Ben holds the other).
    let second = task(&app, &ben, None).await;
    let second_id = second["comparison_id"].as_str().unwrap().to_string();
    assert_ne!(second_id, comparison);
    assert_eq!(task(&app, &tom, None).await, Value::Null);

    // Ben's lease runs out: his ranking is refused, nothing stored, and Tom gets it.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let (second_shown, second_ranking) = shown_and_ranking(&second);
    let late = json!({ "request_id": id(), "comparison_id": second_id, "ranking": second_ranking, "shown": second_shown });
    refused(&app, &ben, late, 409, "comparison_id", "lease expired").await;
    let toms = task(&app, &tom, None).await;
    assert_eq!(toms["comparison_id"], second_id.as_str());
    assert_eq!(toms["completions"].as_array().unwrap().len(), 4);
    // Tom skips it: not offered to him again, and back in the queue for Ben.
    app.call_ok(&tom, "rank/skip", &[("comparison_id", second_id.as_str())]).await;
    assert_eq!(task(&app, &tom, None).await, Value::Null);
    assert_eq!(task(&app, &ben, None).await["comparison_id"], second_id.as_str());

    // Ben revises his first ranking: revision 2, the earlier kept; cannot-rank with a reason.
    let revise = task(&app, &ben, Some(&comparison)).await;
    assert_eq!(revise["previous"]["revision"], 1);
    assert_eq!(revise["lease_expires_at"], Value::Null);
    let mut revision = body(json!([]));
    revision["cannot_rank"] = json!("none of them answers the question");
    let revised: Value = submit(&app, &ben, &revision).await.json().await.unwrap();
    assert_eq!((revised["revision"].as_i64(), revised["ranking"].clone()), (Some(2), Value::Null));
    let (progress, recent) = mine(&app, &ben).await;
    assert_eq!(progress["done_today"], 1);
    assert_eq!(recent[0]["revision"], 2);
    assert_eq!(recent[0]["cannot_rank"], true);
    // Feedback on a completion: for those given the comparison (and reviewers), no one else.
    let completion = first["completions"][0]["id"].as_str().unwrap();
    let on_completion = [("target_kind", "completion"), ("target_id", completion), ("thumbs", "1")];
    assert_eq!(app.call(&ben, "feedback/save", &on_completion).await.status(), 200);
    assert_eq!(app.call(&tom, "feedback/save", &on_completion).await.status(), 404);
    assert_eq!(task(&app, &ben, Some(&comparison)).await["my_feedback"][0]["thumbs"], 1);
    // Someone who never held a comparison cannot open or rank it.
    assert_eq!(app.call(&tom, "rank/task", &[("comparison_id", comparison.as_str())]).await.status(), 404);
    let batches = app.call_ok(&admin, "rank/batches", &[]).await;
    assert_eq!(batches[0]["rankings_done"], 1);
}
on_both_engines!(batches_are_sampled_ranked_validated_and_revised);

async fn mine(app: &TestApp, client: &reqwest::Client) -> (Value, Vec<Value>) {
    let mine = app.call_ok(client, "rank/mine", &[]).await;
    (mine[0].clone(), mine[1].as_array().cloned().unwrap_or_default())
}

async fn a_batch_needs_model_replies(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let form = [
        ("request_id", id()),
        ("size", "3".into()),
        ("k", "4".into()),
        ("overlap", "1".into()),
        ("temperature", "0.9".into()),
        ("max_tokens", "8".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let reply = app.call(&admin, "rank/create_batch", &form).await;
    assert_eq!(reply.status(), 422);
    let error = error_body(reply).await;
    assert_eq!(error["field"], "size");
    assert!(error["message"].as_str().unwrap().contains("chat with the model first"), "{error}");
    assert_eq!(app.call_ok(&admin, "rank/batches", &[]).await, json!([]), "nothing stored");
}
on_both_engines!(a_batch_needs_model_replies);

/// An admin draws imported prompts (no reply yet) into a batch: the sampler writes all K
/// replies to each, a trainer ranks them with the prompt as the context, a prompt is never
/// drawn twice, and the exports carry the prompt as the context and the replies under it.
async fn a_batch_draws_imported_prompts(engine: Engine) {
    let model = tiny_model();
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap()]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let form = |request: &str| {
        vec![
            ("request_id", request.to_string()),
            ("size", "5".into()),
            ("k", "3".into()),
            ("overlap", "1".into()),
            ("include_original", "true".into()),
            ("from_prompts", "true".into()),
            ("temperature", "0.9".into()),
            ("max_tokens", "8".into()),
            ("seed", "5".into()),
        ]
    };
    let call = |request: &str| {
        let form = form(request);
        let app = &app;
        let admin = &admin;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.call(admin, "rank/create_batch", &form).await
        }
    };
    let reply = call(&id()).await;
    assert_eq!(reply.status(), 422, "no prompt imported yet");
    let error = error_body(reply).await;
    assert_eq!(error["field"], "from_prompts");
    assert!(error["message"].as_str().unwrap().contains("import prompts"), "{error}");

    let prompts = "\"Name a red fruit.\"\n\"What is the capital of France?\"\n";
    let url = app.url(&format!("/api/datasets/import?format=prompts&request_id={}", id()));
    let imported: Value = admin.post(url).body(prompts).send().await.unwrap().json().await.unwrap();
    assert_eq!(imported["prompts"], 2, "{imported}");

    let made = call(&id()).await;
    assert_eq!(made.status(), 200);
    let made: Value = made.json().await.unwrap();
    assert_eq!((made["comparisons"].as_i64(), made["from_prompts"].as_bool()), (Some(2), Some(true)));
    let done = sampled(&app, &admin).await;
    assert_eq!((done["ready"].as_i64(), done["failed"].as_i64()), (Some(2), Some(0)), "{done}");
    // Every prompt is drawn: none is left for another batch.
    let again = call(&id()).await;
    assert_eq!(again.status(), 422);
    assert_eq!(error_body(again).await["field"], "from_prompts");

    // All K are sampled (the prompt has no reply to include), and the trainer sees the prompt
    // as the conversation so far.
    let mut asked = BTreeSet::new();
    for _ in 0..2 {
        let task = task(&app, &ben, None).await;
        assert_eq!(task["completions"].as_array().unwrap().len(), 3, "{task}");
        let context = task["context"].as_array().unwrap();
        assert_eq!((context.len(), context[0]["role"].as_str()), (1, Some("user")), "{task}");
        asked.insert(context[0]["text"].as_str().unwrap().to_string());
        let shown: Vec<Value> =
            task["completions"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
        let body = json!({
            "request_id": id(),
            "comparison_id": task["comparison_id"],
            "shown": shown,
            "ranking": shown.iter().map(|s| vec![s.clone()]).collect::<Vec<_>>(),
        });
        assert_eq!(submit(&app, &ben, &body).await.status(), 200);
    }
    let both: BTreeSet<String> =
        ["Name a red fruit.", "What is the capital of France?"].iter().map(|s| s.to_string()).collect();
    assert_eq!(asked, both);
    let (_, ranked) = mine(&app, &ben).await;
    let titles: BTreeSet<String> = ranked.iter().map(|r| r["title"].as_str().unwrap().to_string()).collect();
    assert_eq!(titles, both, "Your rankings names each by its prompt");

    // The pairs' prompt is the imported prompt; the tree holds the three replies under it,
    // ranked 0, 1, 2.
    let export = |query: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let reply = admin.get(app.url(&format!("/api/datasets/export?{query}"))).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply
                .text()
                .await
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        }
    };
    let pairs = export("format=preference-trl").await;
    assert_eq!(pairs.len(), 6, "C(3,2) pairs for each of 2 rankings");
    for pair in &pairs {
        let prompt = pair["prompt"].as_array().unwrap();
        assert_eq!(prompt.last().unwrap()["role"], "user");
        assert!(both.contains(prompt.last().unwrap()["content"].as_str().unwrap()), "{pair}");
    }
    let trees = export("format=oasst-trees").await;
    let drawn: Vec<&Value> =
        trees.iter().filter(|t| both.contains(t["prompt"]["text"].as_str().unwrap())).collect();
    assert_eq!(drawn.len(), 2);
    for tree in drawn {
        let ranks: Vec<i64> = tree["prompt"]["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rank"].as_i64().unwrap())
            .collect();
        assert_eq!(ranks.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from([0, 1, 2]), "{tree}");
        for reply in tree["prompt"]["replies"].as_array().unwrap() {
            assert_eq!(
                (reply["synthetic"].as_bool(), reply["sampling"]["max_tokens"].as_u64()),
                (Some(true), Some(8))
            );
            assert!(reply["sampling"]["seed"].is_u64(), "{reply}");
        }
        assert_eq!(tree["source"], imported["source"]);
    }
}
on_both_engines!(a_batch_draws_imported_prompts);

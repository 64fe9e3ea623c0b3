//! Quality figures over HTTP on both engines, from real rankings of completions the tiny
//! model sampled: two trainers rank one comparison alike, and the dashboard shows perfect
//! agreement (pairs alike 1, τ-b 1, α 1), each trainer's τ-b against the other's consensus,
//! work per day and the queues; the personal page and the leaderboard count the work; the
//! dashboard's charts are in the server-rendered HTML (no JavaScript needed); and each figure
//! is shown only to those allowed (trainers their own; reviewers and admins everyone's).

mod common;
use common::{Engine, TestApp, chat_with_replies, sampled, tiny_model};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The trainer takes the next comparison and ranks its completions in id order (so every
/// trainer given it ranks it alike), returning the comparison's id.
async fn rank_in_id_order(app: &TestApp, client: &reqwest::Client) -> String {
    let task = app.call_ok(client, "rank/task", &[]).await;
    let comparison = task["comparison_id"].as_str().expect("a comparison to rank").to_string();
    let shown = common::shown_ids(&task);
    let mut ordered = shown.clone();
    ordered.sort();
    let ranking: Vec<Vec<String>> = ordered.into_iter().map(|c| vec![c]).collect();
    let body = json!({ "request_id": id(), "comparison_id": comparison, "ranking": ranking, "shown": shown });
    let reply = client.post(app.url("/api/rank/submit")).json(&body).send().await.unwrap();
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap_or_default());
    comparison
}

async fn figures_follow_the_rankings_and_the_roles(engine: Engine) {
    let model = tiny_model();
    // Figures computed for each view: the test reads them right after each change.
    let app = TestApp::spawn_with(engine, &["--model", model.to_str().unwrap(), "--figures-secs", "0"]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    app.model_ready().await;
    let rita = app.user(&admin, "rita@example.org", "reviewer").await;
    let ada = app.user(&admin, "ada@example.org", "trainer").await;
    let ben = app.user(&admin, "ben@example.org", "trainer").await;
    let cal = app.user(&admin, "cal@example.org", "trainer").await;
    chat_with_replies(&app, &ada, 1).await;
    let form = [
        ("request_id", id()),
        ("size", "1".into()),
        ("k", "3".into()),
        ("overlap", "2".into()),
        ("include_original", "true".into()),
        ("temperature", "0.9".into()),
        ("max_tokens", "8".into()),
        ("seed", "7".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call_ok(&admin, "rank/create_batch", &form).await;
    sampled(&app, &admin).await;
    let one = rank_in_id_order(&app, &ben).await;
    let two = rank_in_id_order(&app, &cal).await;
    assert_eq!(one, two, "overlap 2: both were given the one comparison");

    // The dashboard: reviewers and admins only.
    assert_eq!(app.call(&ada, "stats/dashboard", &[]).await.status(), 403);
    assert_eq!(app.call(&app.client(), "stats/dashboard", &[]).await.status(), 401);
    let board = app.call_ok(&rita, "stats/dashboard", &[]).await;
    app.call_ok(&admin, "stats/dashboard", &[]).await;
    let agreement = &board["agreement"];
    assert_eq!(agreement["comparisons"], 1, "{board}");
    assert_eq!(agreement["pairwise"], 1.0);
    assert_eq!(agreement["kendall_tau"], 1.0);
    assert_eq!(agreement["alpha"], 1.0);
    assert_eq!(board["by_batch"].as_array().unwrap().len(), 1);
    assert_eq!(board["by_model"].as_array().unwrap().len(), 1);
    let trainers: Vec<(String, f64, u64)> = board["by_trainer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["email"].as_str().unwrap().into(),
                t["tau"].as_f64().unwrap(),
                t["comparisons"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(trainers, vec![("ben@example.org".into(), 1.0, 1), ("cal@example.org".into(), 1.0, 1)]);
    assert_eq!(board["models"], json!([]), "one model version: nothing to compare it with");
    let series = |name: &str| -> Vec<f64> {
        board["per_day"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("series {name}"))["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    assert_eq!(board["days"].as_array().unwrap().len(), 30);
    assert_eq!(series("Rankings").last(), Some(&2.0), "today's two rankings");
    assert_eq!(series("Chat turns").last(), Some(&1.0), "Ada's one turn");
    assert_eq!(series("Rankings").iter().sum::<f64>(), 2.0);
    let queues: Vec<(String, i64)> = board["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q[0].as_str().unwrap().into(), q[1].as_i64().unwrap()))
        .collect();
    assert_eq!(queues, vec![("Demonstrations to review".into(), 0), ("Rankings owed".into(), 0)]);

    // The personal page: one's own, or anyone's for reviewers and admins.
    let mine = app.call_ok(&ben, "stats/progress", &[]).await;
    assert_eq!(mine["email"], "ben@example.org");
    assert_eq!(mine["streak"], 1);
    assert_eq!(mine["agreement"]["tau"], 1.0);
    let totals: Vec<(String, i64)> = mine["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t[0].as_str().unwrap().into(), t[1].as_i64().unwrap()))
        .collect();
    assert!(totals.contains(&("Rankings".into(), 1)), "{totals:?}");
    let cal_id = app.call_ok(&cal, "stats/progress", &[]).await["user_id"].as_str().unwrap().to_string();
    assert_eq!(app.call(&ben, "stats/progress", &[("user_id", &cal_id)]).await.status(), 403);
    assert_eq!(
        app.call_ok(&rita, "stats/progress", &[("user_id", &cal_id)]).await["email"],
        "cal@example.org"
    );
    assert_eq!(app.call(&app.client(), "stats/progress", &[]).await.status(), 401);

    // The leaderboard: one ranking each is 1 point each, sharing first place; Ada's chat
    // earns no points, so she is not listed.
    let leaders = app.call_ok(&ada, "stats/leaderboard", &[]).await;
    let rows: Vec<(u64, String, f64)> = leaders
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["place"].as_u64().unwrap(), r["email"].as_str().unwrap().into(), r["score"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(rows, vec![(1, "ben@example.org".into(), 1.0), (1, "cal@example.org".into(), 1.0)]);

    // The K-wise export carries the consensus of both rankings: here, the order both gave.
    let kwise =
        admin.get(app.url("/api/datasets/export?format=kwise")).send().await.unwrap().text().await.unwrap();
    let rows: Vec<Value> = kwise.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["rankers"], 2);
        assert_eq!(row["consensus"], row["groups"], "{row}");
    }

    // The tree export ranks the drawn reply and its two sampled alternatives as siblings,
    // by the consensus: places 0, 1, 2 for the three, in the order both trainers gave.
    let trees = admin
        .get(app.url("/api/datasets/export?format=oasst-trees"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tree: Value = serde_json::from_str(trees.lines().next().expect("the chat's tree")).unwrap();
    let replies = tree["prompt"]["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 3, "{tree}");
    let mut ranked: Vec<(i64, String)> = replies
        .iter()
        .map(|r| (r["rank"].as_i64().unwrap(), r["message_id"].as_str().unwrap().to_string()))
        .collect();
    ranked.sort();
    assert_eq!(ranked.iter().map(|(rank, _)| *rank).collect::<Vec<_>>(), vec![0, 1, 2]);
    let by_rank: Vec<String> = rows[0]["consensus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            rows[0]["completions"][g[0].as_u64().unwrap() as usize]["content"].as_str().unwrap().to_string()
        })
        .collect();
    let texts: Vec<String> = ranked
        .iter()
        .map(|(_, id)| {
            replies.iter().find(|r| r["message_id"] == id.as_str()).unwrap()["text"].as_str().unwrap().into()
        })
        .collect();
    assert_eq!(texts, by_rank, "tree ranks follow the consensus");

    // The pages are whole in the HTML the server sends: the charts are there before any script.
    let html = rita.get(app.url("/stats")).send().await.unwrap().text().await.unwrap();
    for part in
        ["<svg", "data-chart=\"per-day\"", "data-chart=\"agreement\"", "Krippendorff", "ben@example.org"]
    {
        assert!(html.contains(part), "the dashboard's HTML lacks {part}");
    }
    assert_eq!(ada.get(app.url("/stats")).send().await.unwrap().status(), 403);
    let html = ben.get(app.url("/progress")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-chart=\"my-per-day\"") && html.contains("Streak: 1 day"), "progress page");
    let html = ada.get(app.url("/leaderboard")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("score = 5 × accepted"), "the formula is on the page");
}
on_both_engines!(figures_follow_the_rankings_and_the_roles);

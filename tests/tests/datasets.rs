//! Datasets through HTTP and the command line, on SQLite and PostgreSQL: the shared real
//! files (2,312 HH-RLHF pairs, 250 Open-Assistant prompts) import as they are; a retried
//! upload imports once and the same text is skipped; bad files import nothing and name the
//! line and field; exports round-trip (SFT and trees); preference pairs count C(K,2) a
//! ranking; the split keeps each conversation on one side; pseudonyms are stable; the
//! manifest's SHA-256 are the files'.

mod common;
use common::{Engine, TestApp, error_body, parley_bin, shared_data};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

const PASSWORD: &str = "correct horse battery";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn upload(app: &TestApp, client: &reqwest::Client, bytes: Vec<u8>, query: &str) -> reqwest::Response {
    let url = app.url(&format!("/api/datasets/import?{query}"));
    client.post(url).body(bytes).send().await.expect("upload")
}

async fn download(app: &TestApp, client: &reqwest::Client, query: &str) -> String {
    let reply = client.get(app.url(&format!("/api/datasets/export?{query}"))).send().await.expect("download");
    assert_eq!(reply.status(), 200, "{query}");
    reply.text().await.expect("body")
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

/// `parley <args>` against the app's database; panics with its output when it fails.
fn parley(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new(parley_bin())
        .args(args)
        .args(["--database-url", &app.db.url])
        .env("RUST_LOG", "error")
        .output()
        .expect("run parley");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "parley {args:?}: {text}");
    text
}

/// A tree without its ids and times: the texts and roles, nested, in order.
fn shape(node: &Value) -> Value {
    let replies: Vec<Value> =
        node["replies"].as_array().map(|r| r.iter().map(shape).collect()).unwrap_or_default();
    serde_json::json!([node["role"], node["text"], replies])
}

async fn real_files_import_and_round_trip(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let hh = std::fs::read(shared_data("hh-rlhf-harmless-base-test.jsonl.gz")).unwrap();
    let import_id = id();
    let query = format!("request_id={import_id}&source=hh-rlhf&file_name=hh.jsonl.gz");
    let reply = upload(&app, &admin, hh.clone(), &query).await;
    assert_eq!(reply.status(), 200);
    let done: Value = reply.json().await.unwrap();
    assert_eq!((done["format"].as_str(), done["conversations"].as_u64()), (Some("hh-rlhf"), Some(2312)));
    // A retried upload (same id) stores nothing more; the same file again is all duplicates.
    let again: Value = upload(&app, &admin, hh.clone(), &query).await.json().await.unwrap();
    assert_eq!(again["id"], done["id"]);
    let twice: Value = upload(&app, &admin, hh, &format!("request_id={}", id())).await.json().await.unwrap();
    assert_eq!((twice["conversations"].as_u64(), twice["duplicates"].as_u64()), (Some(0), Some(2312)));
    let trainer = app.user(&admin, "ada@example.org", "trainer").await;
    assert_eq!(app.call(&trainer, "datasets/random_prompt", &[]).await.status(), 404, "none imported yet");
    let prompts = std::fs::read(shared_data("oasst-prompt-lottery-en-250.jsonl")).unwrap();
    let done: Value =
        upload(&app, &admin, prompts, &format!("request_id={}", id())).await.json().await.unwrap();
    assert_eq!((done["format"].as_str(), done["prompts"].as_u64()), (Some("prompts"), Some(250)));
    let drawn = app.call_ok(&trainer, "datasets/random_prompt", &[]).await;
    let lottery = std::fs::read_to_string(shared_data("oasst-prompt-lottery-en-250.jsonl")).unwrap();
    assert!(lottery.lines().any(|l| serde_json::from_str::<String>(l).unwrap() == drawn), "{drawn}");

    // SFT: each conversation once, its chosen branch; the first turn the person's.
    let sft = lines(&download(&app, &admin, "format=sft").await);
    assert_eq!(sft.len(), 2312);
    assert!(sft.iter().all(|row| row["messages"][0]["role"] == "user" && row["source"] == "hh-rlhf"));
    // Trees keep the rejected reply as a second branch: more assistant texts than SFT has.
    let trees_text = download(&app, &admin, "format=oasst-trees").await;
    let trees = lines(&trees_text);
    assert_eq!(trees.len(), 2312);
    // A split over HTTP: both parts together are the whole, no conversation in both.
    let split = "format=sft&split_seed=4&test_ratio=0.25&pseudonym_seed=2";
    let train = lines(&download(&app, &admin, &format!("{split}&part=train")).await);
    let test = lines(&download(&app, &admin, &format!("{split}&part=test")).await);
    assert_eq!(train.len() + test.len(), 2312);
    let ids = |rows: &[Value]| -> BTreeSet<String> {
        rows.iter().map(|r| r["conversation_id"].to_string()).collect()
    };
    assert!(ids(&train).is_disjoint(&ids(&test)) && !test.is_empty());

    // Round trip through a second Parley: import the exports, export again, the same.
    let other = TestApp::spawn(engine).await;
    let other_admin = other.first_admin("admin@example.org", PASSWORD).await;
    let dir = other.db.dir.join("exported");
    std::fs::create_dir_all(&dir).unwrap();
    let sft_text: String = sft.iter().map(|row| format!("{row}\n")).collect();
    std::fs::write(dir.join("sft.jsonl"), &sft_text).unwrap();
    std::fs::write(dir.join("trees.jsonl"), &trees_text).unwrap();
    let said = parley(&other, &["import", dir.join("sft.jsonl").to_str().unwrap(), "--source", "sft"]);
    assert!(said.contains("2312 conversations"), "{said}");
    let said = parley(&other, &["import", dir.join("trees.jsonl").to_str().unwrap(), "--source", "trees"]);
    assert!(said.contains("2312 conversations"), "{said}");
    let messages =
        |rows: &[Value]| -> BTreeSet<String> { rows.iter().map(|r| r["messages"].to_string()).collect() };
    let sft_again = lines(&download(&other, &other_admin, "format=sft&source=sft").await);
    assert_eq!(messages(&sft_again), messages(&sft), "SFT: the same conversations");
    let trees_again = lines(&download(&other, &other_admin, "format=oasst-trees&source=trees").await);
    let shapes = |rows: &[Value]| -> BTreeSet<String> {
        rows.iter().map(|r| shape(&r["prompt"]).to_string()).collect()
    };
    assert_eq!(shapes(&trees_again), shapes(&trees), "trees: the same branches, texts and order");
}
on_both_engines!(real_files_import_and_round_trip);

/// HH-RLHF's `"\n\nHuman: …\n\nAssistant: …"` as turns (role, text trimmed), read here
/// independently of the importer.
fn hh_turns(text: &str) -> Vec<(String, String)> {
    let mut turns = vec![];
    for piece in text.split("\n\nHuman:").skip(1) {
        let mut parts = piece.split("\n\nAssistant:");
        turns.push(("user".to_string(), parts.next().unwrap_or("").trim().to_string()));
        turns.extend(parts.map(|p| ("assistant".to_string(), p.trim().to_string())));
    }
    turns
}

fn hh_string(turns: &[(String, String)]) -> String {
    turns
        .iter()
        .map(|(role, text)| format!("\n\n{}: {text}", if role == "user" { "Human" } else { "Assistant" }))
        .collect()
}

async fn preference_files_import_as_rankings(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let hh = std::fs::read(shared_data("hh-rlhf-harmless-base-test.jsonl.gz")).unwrap();
    let query = format!("request_id={}&source=hh-rlhf&file_name=hh.jsonl.gz", id());
    let done: Value = upload(&app, &admin, hh, &query).await.json().await.unwrap();
    // Every row parts at an assistant's reply: one comparison and one ranking each.
    assert_eq!(
        (done["conversations"].as_u64(), done["comparisons"].as_u64(), done["rankings"].as_u64()),
        (Some(2312), Some(2312), Some(2312)),
        "{done}"
    );
    // The pairs exported are the file's own, where its two sides differ in the last reply
    // alone (all but 5 rows); the rest rank the replies where the two sides part.
    let mut file = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(
            &std::fs::read(shared_data("hh-rlhf-harmless-base-test.jsonl.gz")).unwrap()[..],
        ),
        &mut file,
    )
    .unwrap();
    let exported: BTreeSet<(String, String)> =
        lines(&download(&app, &admin, "format=preference-hh&source=hh-rlhf").await)
            .iter()
            .map(|r| (r["chosen"].as_str().unwrap().to_string(), r["rejected"].as_str().unwrap().to_string()))
            .collect();
    assert_eq!(exported.len(), 2312);
    let mut same_prefix = 0;
    for row in lines(&file) {
        let (chosen, rejected) =
            (hh_turns(row["chosen"].as_str().unwrap()), hh_turns(row["rejected"].as_str().unwrap()));
        if chosen.len() == rejected.len() && chosen[..chosen.len() - 1] == rejected[..rejected.len() - 1] {
            same_prefix += 1;
            assert!(exported.contains(&(hh_string(&chosen), hh_string(&rejected))), "{row}");
        }
    }
    assert_eq!(same_prefix, 2307);
    // Credited to the source, not to a person: named so in the export, not among the people,
    // and no account to sign in with.
    let trl = lines(&download(&app, &admin, "format=preference-trl&source=hh-rlhf&pseudonym_seed=3").await);
    assert!(trl.iter().all(|r| r["trainer"] == "import:hh-rlhf"), "{}", trl[0]);
    let people = app.call_ok(&admin, "users/list", &[]).await;
    assert!(!people.to_string().contains("import:"), "{people}");
    let signed =
        app.call(&app.client(), "auth/login", &[("email", "import:hh-rlhf"), ("password", "!")]).await;
    assert_ne!(signed.status(), 200);

    // K-wise rows as Parley exports them come back as the same rankings; rows of several
    // trainers ranking the same replies are one comparison, each trainer credited apart.
    let kwise_text = download(&app, &admin, "format=kwise&source=hh-rlhf").await;
    // (Figures computed for each view: the kept ones date from the server's start.)
    let other = TestApp::spawn_with(engine, &["--figures-secs", "0"]).await;
    let other_admin = other.first_admin("admin@example.org", PASSWORD).await;
    let mut two_rankers = kwise_text.clone();
    let first = lines(&kwise_text)[0].clone();
    let mut flipped = first.clone();
    flipped["ranking"] = serde_json::json!([1, 0]);
    flipped["groups"] = serde_json::json!([[1], [0]]);
    flipped["trainer"] = serde_json::json!("someone else");
    two_rankers.push_str(&format!("{flipped}\n"));
    let done: Value =
        upload(&other, &other_admin, two_rankers.into_bytes(), &format!("request_id={}&source=kw", id()))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        (done["format"].as_str(), done["comparisons"].as_u64(), done["rankings"].as_u64()),
        (Some("kwise"), Some(2312), Some(2313)),
        "{done}"
    );
    let whole = |text: &str| -> BTreeSet<String> {
        lines(text)
            .iter()
            .map(|r| serde_json::json!([r["prompt"], r["completions"], r["groups"]]).to_string())
            .collect()
    };
    let again = download(&other, &other_admin, "format=kwise&source=kw").await;
    let mut expected = whole(&kwise_text);
    expected.insert(serde_json::json!([first["prompt"], first["completions"], [[1], [0]]]).to_string());
    assert_eq!(whole(&again), expected);
    let trainers: BTreeSet<String> =
        lines(&again).iter().map(|r| r["trainer"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        trainers,
        BTreeSet::from(["import:kw/import:hh-rlhf".to_string(), "import:kw/someone else".to_string()])
    );
    let split = lines(&again).iter().filter(|r| r["rankers"] == 2).count();
    assert_eq!(split, 2, "the comparison ranked twice carries both rankings' consensus");
    // They count in the Quality page's agreement like trainers' rankings.
    let quality = other.call_ok(&other_admin, "stats/dashboard", &[]).await;
    assert!(quality.to_string().contains("import:kw/someone else"), "{quality}");

    // A TRL file sent by 20 admins' tabs at once, each its own request: stored once.
    let trl_file: String = (0..50)
        .map(|i| {
            serde_json::json!({"prompt": format!("Question {i}?"), "chosen": "Yes.", "rejected": "No."})
                .to_string()
                + "\n"
        })
        .collect();
    let sends = (0..20).map(|_| {
        let query = format!("request_id={}&source=trl", id());
        let (app, admin, body) = (&app, &admin, trl_file.clone().into_bytes());
        async move { upload(app, admin, body, &query).await.json::<Value>().await.unwrap() }
    });
    let answers = futures::future::join_all(sends).await;
    let stored: u64 = answers.iter().map(|a| a["comparisons"].as_u64().unwrap()).sum();
    let duplicates: u64 = answers.iter().map(|a| a["duplicates"].as_u64().unwrap()).sum();
    assert_eq!((stored, duplicates), (50, 19 * 50), "{answers:?}");
    let pairs = lines(&download(&app, &admin, "format=preference-trl&source=trl").await);
    assert_eq!(pairs.len(), 50);
    assert!(pairs.iter().all(|p| p["chosen"][0]["content"] == "Yes." && p["prompt"][0]["role"] == "user"));
}
on_both_engines!(preference_files_import_as_rankings);

async fn bad_files_import_nothing(engine: Engine) {
    let app = TestApp::spawn_with(engine, &["--max-import-mb", "1"]).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    let good = r#"{"instruction": "Say hi", "output": "Hi"}"#;
    let done: Value = upload(&app, &admin, format!("{good}\n").into_bytes(), &format!("request_id={}", id()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["conversations"], 1);
    let cases: Vec<(&str, String, usize, &str)> = vec![
        ("truncated JSON", format!("{good}\n{{\"instruction\": \"x\", \"out"), 2, ""),
        (
            "wrong type",
            format!("{good}\n{good}\n{{\"instruction\": 5, \"output\": \"x\"}}"),
            3,
            "instruction",
        ),
        ("empty text", r#"{"instruction": "x", "output": "  "}"#.to_string(), 1, "output"),
        (
            "unknown role",
            r#"{"messages": [{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}]}"#
                .to_string(),
            1,
            "messages[1].role",
        ),
        (
            "huge turn",
            format!("{{\"instruction\": \"{}\", \"output\": \"x\"}}", "a".repeat(40_000)),
            1,
            "turn 1",
        ),
        (
            "HH without Assistant",
            r#"{"chosen": "\n\nHuman: hi", "rejected": "\n\nHuman: hi\n\nAssistant: x"}"#.to_string(),
            1,
            "chosen",
        ),
        (
            "oasst bad role",
            r#"{"message_tree_id": "t", "prompt": {"text": "q", "role": "bot", "replies": []}}"#.to_string(),
            1,
            "prompt.role",
        ),
    ];
    for (what, text, line, field) in cases {
        let reply = upload(&app, &admin, text.into_bytes(), &format!("request_id={}", id())).await;
        assert_eq!(reply.status(), 422, "{what}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["field"], "file", "{what}: {body}");
        assert_eq!(body["problems"][0]["line"], line, "{what}: {body}");
        assert_eq!(body["problems"][0]["field"], field, "{what}: {body}");
    }
    // A file over the limit (1 MB here) is refused, not cut, also when it only unzips to
    // more: a few KB of gzip that hold 1.1 MB.
    let big = format!("{{\"instruction\": \"{}\"}}\n", "a".repeat(1_100_000));
    let zipped = gzip(big.as_bytes());
    assert!(zipped.len() < 20_000);
    let reply = upload(&app, &admin, zipped, &format!("request_id={}", id())).await;
    assert_eq!(reply.status(), 413);
    assert!(error_body(reply).await["message"].as_str().unwrap().contains("over the 1 MB"));
    // A format named wrongly; trainers and anonymous callers may not import or export.
    let body =
        error_body(upload(&app, &admin, b"x".to_vec(), &format!("request_id={}&format=csv", id())).await)
            .await;
    assert_eq!(body["field"], "format");
    let trainer = app.user(&admin, "ada@example.org", "trainer").await;
    assert_eq!(
        upload(&app, &trainer, good.as_bytes().to_vec(), &format!("request_id={}", id())).await.status(),
        403
    );
    let anonymous = app.client();
    assert_eq!(anonymous.get(app.url("/api/datasets/export?format=sft")).send().await.unwrap().status(), 401);
    let body = error_body(
        admin.get(app.url("/api/datasets/export?format=sft&from=yesterday")).send().await.unwrap(),
    )
    .await;
    assert_eq!(body["field"], "from");
    // Nothing of the refused files was stored.
    let sft = lines(&download(&app, &admin, "format=sft").await);
    assert_eq!(sft.len(), 1);
}
on_both_engines!(bad_files_import_nothing);

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    child.wait_with_output().unwrap().stdout
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rankings of K = 4 make C(4,2) = 6 pairs each in every pair format; the K-wise form keeps
/// each whole; split by conversation with no conversation on both sides; pseudonyms are the
/// same across files and runs; the manifest's counts and hashes are the files'.
async fn pairs_split_pseudonyms_and_manifest(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.first_admin("admin@example.org", PASSWORD).await;
    parley(&app, &["seed", "--synthetic", "300"]);
    let dir = app.db.dir.join("out");
    let dir_text = dir.to_str().unwrap();
    let export = |out: &str| {
        parley(
            &app,
            &["export", "--out", out, "--split-seed", "11", "--test-ratio", "0.3", "--pseudonym-seed", "5"],
        )
    };
    export(dir_text);
    let read = |name: &str| lines(&std::fs::read_to_string(dir.join(name)).unwrap());
    let count = |format: &str| {
        read(&format!("{format}-train.jsonl")).len() + read(&format!("{format}-test.jsonl")).len()
    };
    assert_eq!(count("kwise"), 50);
    for format in ["preference-trl", "preference-openai", "preference-hh"] {
        assert_eq!(count(format), 300, "{format}: 6 pairs for each of 50 rankings");
    }
    assert_eq!(count("kto"), 10);
    assert_eq!(count("filter-feedback"), 5);
    // No comparison (one per conversation here) on both sides, and both sides non-empty.
    let comparisons = |part: &str| -> BTreeSet<String> {
        read(&format!("preference-trl-{part}.jsonl")).iter().map(|r| r["comparison_id"].to_string()).collect()
    };
    let (train, test) = (comparisons("train"), comparisons("test"));
    assert!(!train.is_empty() && !test.is_empty());
    assert!(train.is_disjoint(&test));
    // Each ranking's pairs stay together and the K-wise row says the same order.
    let kwise: HashMap<String, Value> =
        read("kwise-train.jsonl").into_iter().map(|r| (r["ranking_id"].to_string(), r)).collect();
    for whole in kwise.values() {
        // One ranking per comparison here: its consensus is that ranking.
        assert_eq!((&whole["consensus"], whole["rankers"].as_u64()), (&whole["groups"], Some(1)));
    }
    for pair in read("preference-trl-train.jsonl") {
        let whole = &kwise[&pair["ranking_id"].to_string()];
        let place = |reply: &Value| {
            let at = whole["completions"].as_array().unwrap().iter().position(|c| c == &reply[0]).unwrap();
            whole["ranking"].as_array().unwrap().iter().position(|i| i.as_u64() == Some(at as u64)).unwrap()
        };
        let (better, worse) = (place(&pair["chosen"]), place(&pair["rejected"]));
        assert!(better < worse);
        assert_eq!(pair["margin"].as_f64(), Some((worse - better) as f64));
    }
    let trainers: BTreeSet<String> =
        read("kwise-test.jsonl").iter().map(|r| r["trainer"].to_string()).collect();
    assert_eq!(trainers.len(), 1);
    assert!(trainers.iter().next().unwrap().starts_with("\"trainer-"));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let path = dir.join(file["name"].as_str().unwrap());
        assert_eq!(file["sha256"].as_str().unwrap(), sha256(&path), "{}", file["name"]);
        assert_eq!(
            file["rows"].as_u64().unwrap() as usize,
            lines(&std::fs::read_to_string(&path).unwrap()).len()
        );
    }
    // The same seeds give the same files.
    let again = app.db.dir.join("again");
    export(again.to_str().unwrap());
    assert_eq!(
        sha256(&dir.join("preference-hh-test.jsonl")),
        sha256(&again.join("preference-hh-test.jsonl"))
    );
    assert_eq!(sha256(&dir.join("kto-train.jsonl")), sha256(&again.join("kto-train.jsonl")));
}
on_both_engines!(pairs_split_pseudonyms_and_manifest);

/// The columns and row count of a Parquet file.
fn parquet_shape(bytes: Vec<u8>) -> (Vec<String>, i64) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).expect("a Parquet file");
    let meta = reader.metadata().file_metadata();
    let columns =
        meta.schema_descr().root_schema().get_fields().iter().map(|f| f.name().to_string()).collect();
    (columns, meta.num_rows())
}

/// Parquet files (command line and download) hold as many rows as their JSON lines twins,
/// under the same columns; the manifest's counts and hashes are theirs; a
/// format without a Parquet form and an unknown file type are refused by name.
async fn parquet_files_match_their_json_lines(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.first_admin("admin@example.org", PASSWORD).await;
    parley(&app, &["seed", "--synthetic", "60"]);
    let dir = app.db.dir.join("parquet");
    parley(
        &app,
        &["export", "--out", dir.to_str().unwrap(), "--format", "all", "--file-type", "jsonl,parquet"],
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut parquet_files = 0;
    for file in manifest["files"].as_array().unwrap() {
        let name = file["name"].as_str().unwrap();
        let path = dir.join(name);
        assert_eq!(file["sha256"].as_str().unwrap(), sha256(&path), "{name}");
        if file["file_type"] != "parquet" {
            continue;
        }
        parquet_files += 1;
        let twin = lines(&std::fs::read_to_string(dir.join(name.replace(".parquet", ".jsonl"))).unwrap());
        let (columns, rows) = parquet_shape(std::fs::read(&path).unwrap());
        assert_eq!(
            (rows as usize, file["rows"].as_u64().unwrap() as usize),
            (twin.len(), twin.len()),
            "{name}"
        );
        if let Some(first) = twin.first() {
            let keys: BTreeSet<&String> = first.as_object().unwrap().keys().collect();
            assert_eq!(keys, columns.iter().collect(), "{name}");
        }
    }
    assert_eq!(parquet_files, 6, "sft, the three preference formats, kwise and kto");
    assert!(!dir.join("oasst-trees.parquet").exists());
    assert_eq!(parquet_shape(std::fs::read(dir.join("preference-trl.parquet")).unwrap()).1, 60);

    // The download, and the manifest of downloads, agree.
    let url = app.url("/api/datasets/export?format=preference-hh&file=parquet");
    let reply = admin.get(url).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/vnd.apache.parquet");
    assert!(reply.headers()["content-disposition"].to_str().unwrap().contains("preference-hh.parquet"));
    let bytes = reply.bytes().await.unwrap().to_vec();
    assert_eq!(parquet_shape(bytes.clone()).1, 60);
    let manifest: Value =
        serde_json::from_str(&download(&app, &admin, "format=manifest&file=parquet").await).unwrap();
    let listed: Vec<&str> =
        manifest["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 6, "{listed:?}");
    let hh =
        manifest["files"].as_array().unwrap().iter().find(|f| f["name"] == "preference-hh.parquet").unwrap();
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hh["sha256"].as_str(), Some(digest.as_str()));

    for (query, says) in
        [("format=oasst-trees&file=parquet", "no Parquet form"), ("format=sft&file=csv", "jsonl or parquet")]
    {
        let reply = admin.get(app.url(&format!("/api/datasets/export?{query}"))).send().await.unwrap();
        assert_eq!(reply.status(), 422, "{query}");
        let error = error_body(reply).await;
        assert_eq!(error["field"], "file", "{query}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    // The command line refuses a format it cannot write as Parquet, and writes nothing.
    let refused = Command::new(parley_bin())
        .args(["export", "--out", app.db.dir.join("none").to_str().unwrap(), "--format", "oasst-trees"])
        .args(["--file-type", "parquet", "--database-url", &app.db.url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no Parquet form"));
    assert!(!app.db.dir.join("none").exists());
}
on_both_engines!(parquet_files_match_their_json_lines);

//! `parley bench-load`: the labeling loop under load, as a team of trainers runs it. A
//! fresh database (SQLite, or a new PostgreSQL database), `--prompts` imported prompts and
//! one comparison batch drawn from them (K completions each, sampled by the tiny model), one
//! account per trainer; then, for each count of trainers, every trainer loops `rank/task`
//! and `rank/submit` (a fresh request id, a full ranking) for `--seconds`. Printed per run:
//! submissions/s, latency percentiles of both calls, answers by status, rankings stored
//! against acknowledged, duplicates and the server's peak RSS, beside Label Studio's figures
//! on the same machine kind. Then a retry storm: each of 200 submissions sent twice at once.

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// `sqlite` (a fresh file) or `postgres` (a fresh database on --postgres-url's server).
    #[arg(long, default_value = "sqlite")]
    pub engine: String,
    /// A PostgreSQL server Parley may create and drop a database on.
    #[arg(long, env = "PARLEY_TEST_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
    /// Concurrent trainers, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    pub trainers: Vec<usize>,
    /// Seconds each run lasts.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Prompts imported; the batch draws one comparison from each.
    #[arg(long, default_value_t = 20_000)]
    pub prompts: usize,
    /// Completions per comparison.
    #[arg(short = 'k', long, default_value_t = 4)]
    pub k: usize,
    /// Comparisons seeded ready to rank before the batch (one ranking owed each), ahead of it
    /// in the queue: the runs then lease from a queue this much longer.
    #[arg(long, default_value_t = 0)]
    pub open: u64,
    /// Rankings seeded before the runs, for the figures: comparisons of 4 completions (the
    /// original by one model version, three by another), each ranked by two trainers who
    /// agree three times in four. The dashboard, progress and leaderboard are timed over
    /// them after the runs.
    #[arg(long, default_value_t = 0)]
    pub rankings: u64,
    /// Server instances sharing the database (PostgreSQL only for more than one); each
    /// run's trainers are dealt out among them in turn.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// Profile the server with `perf` during the run with the most trainers, and print where
    /// its time went (by library and by function).
    #[arg(long)]
    pub profile: bool,
    /// Submissions sent twice at once in the retry storm.
    #[arg(long, default_value_t = 200)]
    pub retries: usize,
}

/// Label Studio 1.23.2 on the same machine kind, the same loop (issue 16).
const LABEL_STUDIO: [(usize, &str); 3] =
    [(1, "6.8/s, p50 144 ms"), (10, "-"), (50, "3.9/s, p99 21.9 s, 18 5xx, duplicates")];

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Peak resident memory since the last reset, in MB (Linux `VmHWM`).
    fn peak_rss_mb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024)
    }

    /// Starts the peak over from the current size.
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }
}

/// The highest peak of the instances, in MB.
fn peak_rss_mb(servers: &[Server]) -> u64 {
    servers.iter().filter_map(Server::peak_rss_mb).max().unwrap_or(0)
}

fn start(database_url: &str) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("tiny.gguf");
    crate::model::tiny::write(&model, 0).context("cannot write the tiny model")?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", database_url])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--model")
        .arg(&model)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start parley serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let base = lines
        .find_map(|line| line.ok()?.strip_prefix("Parley listening on ").map(str::to_string))
        .context("the server printed no address")?;
    // Keep reading, so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, base, _dir: dir })
}

/// `perf record` on one server for one run.
struct Profile {
    child: Child,
    server: u32,
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
}

impl Profile {
    fn start(server: &Server, seconds: u64) -> Option<Profile> {
        let dir = tempfile::tempdir().ok()?;
        let data = dir.path().join("perf.data");
        let child = Command::new("perf")
            .args(["record", "-q", "-a", "-F", "499", "-o"])
            .arg(&data)
            .args(["--", "sleep", &seconds.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(Profile { child, server: server.child.id(), _dir: dir, data })
    }

    /// The shares by process and library (the server, the bench's own client, the kernel,
    /// libc, SQLite, Parley) and the top functions. The whole machine is recorded: the
    /// client shares the cores, and idle time shows as the idle task.
    fn report(mut self) -> anyhow::Result<String> {
        let status = self.child.wait()?;
        if !status.success() {
            bail!("perf record failed ({status})");
        }
        let mut out = format!(
            "  the server is pid {}; the bench's client is pid {}\n",
            self.server,
            std::process::id()
        );
        for (sort, lines) in [("pid,dso", 12), ("sym", 20)] {
            let report = Command::new("perf")
                .args(["report", "-q", "--stdio", "--no-children", "--sort", sort, "-i"])
                .arg(&self.data)
                .output()?;
            let text = String::from_utf8_lossy(&report.stdout);
            let top: Vec<&str> = text
                .lines()
                .map(str::trim_end)
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .take(lines)
                .collect();
            out.push_str(&format!(
                "  by {}:\n",
                if sort == "sym" { "function" } else { "process and library" }
            ));
            for line in top {
                out.push_str(&format!("    {}\n", line.trim()));
            }
        }
        Ok(out.trim_end().to_string())
    }
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .build()?)
}

async fn call(
    client: &reqwest::Client,
    base: &str,
    function: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let reply = client.post(format!("{base}/api/{function}")).form(form).send().await?;
    let status = reply.status();
    let text = reply.text().await?;
    if status != 200 {
        bail!("{function}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// One trainer's record of a run.
#[derive(Default)]
struct Tally {
    task_ms: Vec<f64>,
    submit_ms: Vec<f64>,
    statuses: BTreeMap<String, u64>,
    acknowledged: Vec<Uuid>,
    empty_queue: bool,
}

async fn trainer(client: reqwest::Client, base: Arc<str>, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let count = |tally: &mut Tally, call: &str, status: u16| {
        *tally.statuses.entry(format!("{call} {status}")).or_default() += 1;
    };
    while Instant::now() < until {
        let started = Instant::now();
        let reply = client.post(format!("{base}/api/rank/task")).form(&[] as &[(&str, &str)]).send().await;
        let task: Value = match reply {
            Ok(reply) => {
                let status = reply.status().as_u16();
                let body = reply.json::<Value>().await.unwrap_or(Value::Null);
                tally.task_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                count(&mut tally, "task", status);
                if status != 200 {
                    continue;
                }
                body
            }
            Err(_) => {
                count(&mut tally, "task", 0);
                continue;
            }
        };
        let Some(comparison) = task["comparison_id"].as_str() else {
            tally.empty_queue = true;
            break;
        };
        let shown: Vec<&str> =
            task["completions"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect();
        let ranking: Vec<Vec<&str>> = shown.iter().map(|c| vec![*c]).collect();
        let id = Uuid::new_v4();
        let body = json!({"request_id": id, "comparison_id": comparison, "ranking": ranking, "shown": shown});
        let started = Instant::now();
        let status = match client.post(format!("{base}/api/rank/submit")).json(&body).send().await {
            Ok(reply) => {
                let status = reply.status().as_u16();
                let _ = reply.bytes().await;
                status
            }
            Err(_) => 0,
        };
        tally.submit_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        count(&mut tally, "submit", status);
        if status == 200 {
            tally.acknowledged.push(id);
        }
    }
    tally
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn spread(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} / {:.1} / {:.1}",
        percentile(&values, 0.5),
        percentile(&values, 0.9),
        percentile(&values, 0.99)
    )
}

/// A fresh database for the run: a SQLite file, or a new PostgreSQL database (and the URL
/// to drop it with afterwards).
async fn database(args: &LoadArgs, dir: &std::path::Path) -> anyhow::Result<(String, Option<String>)> {
    match args.engine.as_str() {
        "sqlite" => Ok((format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()), None)),
        "postgres" => {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let name = format!("parley_bench_{}", Uuid::new_v4().simple());
            let mut admin = sqlx::AnyConnection::connect(&args.postgres_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}"))).execute(&mut admin).await?;
            let (server, _) =
                args.postgres_url.rsplit_once('/').context("a postgres URL ends in /DATABASE")?;
            Ok((format!("{server}/{name}"), Some(name)))
        }
        other => bail!("--engine is sqlite or postgres, not {other:?}"),
    }
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, dropped) = database(&args, dir.path()).await?;
    let result = measure(&args, &url).await;
    if let Some(name) = dropped {
        use sqlx::Connection;
        let mut admin = sqlx::AnyConnection::connect(&args.postgres_url).await?;
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)")))
            .execute(&mut admin)
            .await;
    }
    result
}

async fn measure(args: &LoadArgs, url: &str) -> anyhow::Result<()> {
    // Each run has trainers of its own: none starts with a queue an earlier run walked.
    let most: usize = args.trainers.iter().sum();
    if args.instances > 1 && !url.starts_with("postgres") {
        bail!("--instances above 1 needs --engine postgres (one SQLite file has one server)");
    }
    let server = start(url)?;
    let base: Arc<str> = server.base.clone().into();
    let admin = client()?;
    let password = "correct horse battery";
    call(
        &admin,
        &base,
        "auth/create_first_admin",
        &[
            ("request_id", &Uuid::new_v4().to_string()),
            ("email", "admin@example.org"),
            ("password", password),
        ],
    )
    .await?;
    if args.open > 0 || args.rankings > 0 {
        let started = Instant::now();
        let store = crate::store::SqlStore::connect(url).await?;
        store.migrate().await?;
        store.seed_synthetic(args.rankings, args.open, true).await?;
        println!(
            "set-up: {} rankings and {} open comparisons seeded ahead of the batch (the server waits meanwhile), {:.0} s",
            args.rankings,
            args.open,
            started.elapsed().as_secs_f64()
        );
    }

    let started = Instant::now();
    let prompts: String =
        (0..args.prompts).map(|i| format!("\"Prompt {i}: name a colour and say why.\"\n")).collect();
    let reply = admin
        .post(format!("{base}/api/datasets/import?format=prompts&request_id={}", Uuid::new_v4()))
        .body(prompts)
        .send()
        .await?;
    if reply.status() != 200 {
        bail!("import: {} {}", reply.status(), reply.text().await?);
    }
    let k = args.k.to_string();
    // The most rankings a comparison may want.
    let overlap = most.min(10).to_string();
    // A batch draws at most 1,000 prompts: as many batches as that takes.
    let mut left = args.prompts;
    while left > 0 {
        let size = left.min(1000).to_string();
        let batch = Uuid::new_v4().to_string();
        let form = [
            ("request_id", batch.as_str()),
            ("size", size.as_str()),
            ("k", k.as_str()),
            ("overlap", overlap.as_str()),
            ("from_prompts", "true"),
            ("temperature", "0.9"),
            ("max_tokens", "4"),
        ];
        call(&admin, &base, "rank/create_batch", &form).await?;
        left -= left.min(1000);
    }
    loop {
        let batches = call(&admin, &base, "rank/batches", &[]).await?;
        if batches.as_array().into_iter().flatten().all(|b| b["pending"] == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "set-up: {} prompts, batches of {} comparisons in all (K = {}, overlap {overlap}) sampled, {:.0} s",
        args.prompts,
        args.prompts,
        args.k,
        started.elapsed().as_secs_f64()
    );

    let mut accounts = vec![];
    for i in 0..most {
        let email = format!("trainer{i}@example.org");
        let form = [
            ("request_id", Uuid::new_v4().to_string()),
            ("email", email.clone()),
            ("password", password.to_string()),
            ("role", "trainer".to_string()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        call(&admin, &base, "users/create", &form).await?;
        let trainer = client()?;
        call(&trainer, &base, "auth/login", &[("email", &email), ("password", password)]).await?;
        accounts.push(trainer);
    }
    let mut trainers = accounts.as_slice();

    // The other instances start once the batch is sampled (the first one sampled it).
    let mut servers = vec![server];
    for _ in 1..args.instances.max(1) {
        servers.push(start(url)?);
    }
    let bases: Vec<Arc<str>> = servers.iter().map(|s| Arc::from(s.base.as_str())).collect();
    if bases.len() > 1 {
        println!(
            "{} server instances share the database; each run's trainers are dealt out among them",
            bases.len()
        );
    }
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(url).await?;
    println!();
    println!(
        "{:>8} {:>12} {:>22} {:>22} {:>24} {:>16} {:>5} {:>8}  {}",
        "trainers",
        "submits/s",
        "task p50/p90/p99 ms",
        "submit p50/p90/p99 ms",
        "answers",
        "stored/acked",
        "dups",
        "peak RSS",
        "Label Studio 1.23.2"
    );
    let busiest = args.trainers.iter().copied().max().unwrap_or(0);
    let mut profile = None;
    for &count in &args.trainers {
        for server in &servers {
            server.reset_peak();
        }
        let perf =
            (args.profile && count == busiest).then(|| Profile::start(&servers[0], args.seconds)).flatten();
        let until = Instant::now() + Duration::from_secs(args.seconds);
        let started = Instant::now();
        let (ours, rest) = trainers.split_at(count);
        let workers: Vec<_> = ours
            .iter()
            .enumerate()
            .map(|(i, client)| tokio::spawn(trainer(client.clone(), bases[i % bases.len()].clone(), until)))
            .collect();
        let mut all = Tally::default();
        for worker in workers {
            let tally = worker.await?;
            all.task_ms.extend(tally.task_ms);
            all.submit_ms.extend(tally.submit_ms);
            for (key, n) in tally.statuses {
                *all.statuses.entry(key).or_default() += n;
            }
            all.acknowledged.extend(tally.acknowledged);
            all.empty_queue |= tally.empty_queue;
        }
        let elapsed = started.elapsed().as_secs_f64();
        if let Some(perf) = perf {
            profile = Some((count, perf.report()));
        }
        let mut stored = 0i64;
        for chunk in all.acknowledged.chunks(500) {
            let list = chunk.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "select count(*) from rankings where id in ({list})"
            )))
            .fetch_one(&db)
            .await?;
            stored += n;
        }
        let (dups,): (i64,) = sqlx::query_as(
            "select count(*) from (select comparison_id, ranked_by from rankings group by comparison_id, ranked_by having count(*) > 1) d",
        )
        .fetch_one(&db)
        .await?;
        let answers = all.statuses.iter().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(" ");
        let label_studio = LABEL_STUDIO.iter().find(|(c, _)| *c == count).map_or("-", |(_, s)| s);
        println!(
            "{:>8} {:>12.1} {:>22} {:>22} {:>24} {:>16} {:>5} {:>5} MB  {}{}",
            count,
            all.acknowledged.len() as f64 / elapsed,
            spread(all.task_ms),
            spread(all.submit_ms),
            answers,
            format!("{stored}/{}", all.acknowledged.len()),
            dups,
            peak_rss_mb(&servers),
            label_studio,
            if all.empty_queue { "  (the queue ran out)" } else { "" },
        );
        trainers = rest;
    }

    if args.profile {
        match profile {
            Some((count, Ok(report))) => {
                println!();
                println!(
                    "where the time went with {count} trainers (perf over the whole machine, 499 samples/s per CPU):"
                );
                println!("{report}");
            }
            Some((_, Err(err))) => println!("\nno profile: {err:#}"),
            None => println!("\nno profile: `perf` could not be started (is it installed?)"),
        }
    }

    // The retry storm: every submission sent twice at once, as a double click does.
    let client = accounts.last().context("no trainer")?;
    let (mut both_ok, mut same, mut tasks) = (0, 0, 0);
    let mut ids = vec![];
    for _ in 0..args.retries {
        let task = call(client, &base, "rank/task", &[]).await?;
        let Some(comparison) = task["comparison_id"].as_str() else { break };
        tasks += 1;
        let shown: Vec<&str> =
            task["completions"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect();
        let ranking: Vec<Vec<&str>> = shown.iter().rev().map(|c| vec![*c]).collect();
        let id = Uuid::new_v4();
        let body = json!({"request_id": id, "comparison_id": comparison, "ranking": ranking, "shown": shown});
        let send = || async { client.post(format!("{base}/api/rank/submit")).json(&body).send().await };
        let (a, b) = tokio::join!(send(), send());
        let (a, b) = (a?, b?);
        if a.status() == 200 && b.status() == 200 {
            both_ok += 1;
        }
        let (a, b): (Value, Value) = (a.json().await?, b.json().await?);
        if a["id"] == b["id"] && a["ranking"] == b["ranking"] {
            same += 1;
        }
        ids.push(id);
    }
    let list = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    let (stored,): (i64,) = if ids.is_empty() {
        (0,)
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("select count(*) from rankings where id in ({list})")))
            .fetch_one(&db)
            .await?
    };
    println!();
    println!(
        "retry storm: {tasks} submissions each sent twice at once: {both_ok} answered 200 twice, {same} with the same ranking, {stored} stored"
    );
    let (beyond,): (i64,) = sqlx::query_as(
        "select count(*) from (select r.comparison_id from rankings r join comparisons c on c.id = r.comparison_id \
         join comparison_batches b on b.id = c.batch_id where r.revision = 1 \
         group by r.comparison_id having count(*) > max(b.overlap)) d",
    )
    .fetch_one(&db)
    .await?;
    println!("comparisons ranked by more trainers than their overlap: {beyond}");

    // The pages that read every ranking are answered with the figures kept, computed in the
    // background: wait for a computation that started after the runs, print what it took,
    // then time the answers.
    let (count,): (i64,) = sqlx::query_as("select count(*) from rankings").fetch_one(&db).await?;
    println!();
    println!(
        "figures over {count} rankings: their computation in the background, then the answers' p50 / p99 of 20, and the server's peak RSS"
    );
    for server in &servers {
        server.reset_peak();
    }
    let after = app::ssr::clock::now_rfc3339();
    for (function, caller) in
        [("stats/dashboard", &admin), ("stats/progress", client), ("stats/leaderboard", client)]
    {
        let mut took = String::from("-");
        if function != "stats/leaderboard" {
            let waiting = Instant::now();
            loop {
                let figures = call(caller, &base, function, &[]).await?;
                let freshness = &figures["freshness"];
                if freshness["computed_at"].as_str().is_some_and(|at| at > after.as_str()) {
                    took = format!("{} ms", freshness["took_ms"]);
                    break;
                }
                if waiting.elapsed() > Duration::from_secs(900) {
                    bail!("{function}: no new figures within 15 minutes");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let mut times = vec![];
        for _ in 0..20 {
            let started = Instant::now();
            call(caller, &base, function, &[]).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{function:>20}: computed in {took}; answered in {:.1} ms / {:.1} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    println!("peak RSS while computing them: {} MB", peak_rss_mb(&servers));
    Ok(())
}

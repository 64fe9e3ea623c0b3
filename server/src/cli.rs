//! The `parley` command line: `serve` (the default), `migrate`, `user add`, `model check`, …

use crate::model_file::{self, DEFAULT_MODEL_PATH};
use crate::store::SqlStore;
use anyhow::Context;
use app::domain::Role;
use app::ssr::{NewUser, Store, hash_password};
use app::validate::{check_email, check_password};
use clap::{Args, Parser, Subcommand};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "parley", version, about = "Parley: a studio where trainers make RLHF data")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate(StoreArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage keys for the OpenAI-compatible API.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Check a model file, or write the tiny test model.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Import a JSONL file (instruction, messages, HH-RLHF, TRL preference, K-wise rankings,
    /// Open-Assistant trees, prompts; gzip too) as conversations, prompts and ranked
    /// comparisons: all of it, or nothing and the problems named.
    Import(crate::datasets::cli::ImportArgs),
    /// Export training sets (SFT, preference, KTO, filter feedback, trees) and a manifest.
    Export(crate::datasets::cli::ExportArgs),
    /// A reward model on the studio's comparisons: train a head, score pairs with it.
    #[command(subcommand)]
    Reward(crate::reward::RewardCommand),
    /// Fill a database with synthetic rankings, for the export benchmark.
    Seed(crate::datasets::cli::SeedArgs),
    /// Measure the model: prompt and generation tokens/s, time to first token, K alternatives.
    Bench(crate::bench::BenchArgs),
    /// The labeling loop under load: rank/task and rank/submit by 1, 10 and 50 trainers,
    /// beside Label Studio's figures (make bench-load).
    BenchLoad(crate::bench_load::LoadArgs),
    /// List every route besides the pages (plain routes and server functions), one
    /// "METHOD path" a line.
    Routes,
}

#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Database URL: sqlite://PATH or postgres://... [default: a SQLite file in the data dir]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Folder for Parley's own files (the default SQLite database).
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on; port 0 picks a free port (the chosen one is printed).
    #[arg(long, env = "PARLEY_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// GGUF model file; repeat (or separate with commas) to serve several, and choose the
    /// active one on the Admin page. [default: models/SmolLM2-135M-Instruct.Q4_1.gguf when present]
    #[arg(long, env = "PARLEY_MODEL", value_delimiter = ',')]
    pub model: Vec<PathBuf>,
    /// Folder with the built browser files (pkg/). Set by `cargo leptos` when it runs Parley.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Mark the session cookie Secure; use when Parley is served over HTTPS.
    #[arg(long, env = "PARLEY_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Behind a reverse proxy: the header it sets to the client's address
    /// (`x-forwarded-for`, whose last entry is the proxy's own, or `x-real-ip`). Sign-in
    /// limits per address then count the client, not the proxy. Unset, the peer's address
    /// is used and such headers are ignored (any client could forge them).
    #[arg(long, env = "PARLEY_CLIENT_IP_HEADER", value_parser = parse_header_name)]
    pub client_ip_header: Option<http::HeaderName>,
    /// Base URL of a remote OpenAI-compatible engine (vLLM, TGI, llama.cpp, another Parley)
    /// that samples instead of the in-process model.
    #[arg(long, env = "PARLEY_ENGINE_URL")]
    pub engine_url: Option<String>,
    /// API key for the remote engine.
    #[arg(long, env = "PARLEY_ENGINE_KEY")]
    pub engine_key: Option<String>,
    /// Model name to ask the remote engine for.
    #[arg(long, env = "PARLEY_ENGINE_MODEL")]
    pub engine_model: Option<String>,
    /// Base URL of a moderation endpoint in OpenAI's shape (`POST {url}/moderations`), e.g.
    /// https://api.openai.com/v1 or another Parley's /v1. Its flags count with the policy's.
    #[arg(long, env = "PARLEY_MODERATION_URL")]
    pub moderation_url: Option<String>,
    /// API key for the moderation endpoint.
    #[arg(long, env = "PARLEY_MODERATION_KEY")]
    pub moderation_key: Option<String>,
    /// Moderation model to ask for (e.g. omni-moderation-latest).
    #[arg(long, env = "PARLEY_MODERATION_MODEL")]
    pub moderation_model: Option<String>,
    /// `beside` the policy's rules, or `instead` of them.
    #[arg(long, env = "PARLEY_MODERATION_MODE", default_value = "beside")]
    pub moderation_mode: app::ssr::moderation::ModerationMode,
    /// What a flag from the endpoint does: `warn` or `block`.
    #[arg(long, env = "PARLEY_MODERATION_ACTION", default_value = "block", value_parser = ["warn", "block"])]
    pub moderation_action: String,
    /// Largest dataset file an admin may upload, in MB (after unzipping too).
    #[arg(long, env = "PARLEY_MAX_IMPORT_MB", default_value_t = crate::datasets::cli::DEFAULT_MAX_IMPORT_MB as u64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_import_mb: u64,
    /// Generations that may wait for the model; more are refused with 429.
    #[arg(long, env = "PARLEY_MODEL_QUEUE", default_value_t = 8)]
    pub model_queue: usize,
    /// Memory, in MB, for the keys and values of recent prompts, which a later request
    /// beginning with the same tokens continues instead of running them again (per model
    /// file; 0 keeps none).
    #[arg(long, env = "PARLEY_PREFIX_CACHE_MB", default_value_t = (crate::model::prefixes::DEFAULT_BUDGET_BYTES >> 20) as u64, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub prefix_cache_mb: u64,
    /// Largest message (and system prompt) accepted, in KB; larger is refused, not cut.
    #[arg(long, env = "PARLEY_MAX_MESSAGE_KB", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=512))]
    pub max_message_kb: u64,
    /// Most messages one conversation may hold, every branch together.
    #[arg(long, env = "PARLEY_MAX_MESSAGES", default_value_t = 200, value_parser = clap::value_parser!(u64).range(2..=10_000))]
    pub max_messages: u64,
    /// Seconds a trainer holds a comparison they were given before it returns to the queue.
    #[arg(long, env = "PARLEY_RANK_LEASE_SECS", default_value_t = app::comparison::DEFAULT_LEASE_SECS, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub rank_lease_secs: u64,
    /// Seconds the quality figures (dashboard, progress, leaderboard) are served from the
    /// cache before they are computed again; the pages say when they were computed.
    #[arg(long, env = "PARLEY_FIGURES_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub figures_secs: u64,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input, or made up and printed.
    Add {
        #[arg(long)]
        email: String,
        /// trainer, reviewer or admin
        #[arg(long)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the accounts: e-mail, role, and whether each is active.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an account a new one-time password (printed once): its sessions end, and it
    /// must choose its own after signing in.
    Password {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Deactivate an account: it cannot sign in, and its sessions end at once.
    Deactivate {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Reactivate a deactivated account.
    Activate {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make a key and print its secret, once.
    Add {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Check that a file is a GGUF model (and, for the default model, its SHA-256).
    Check {
        #[arg(long, env = "PARLEY_MODEL", default_value = DEFAULT_MODEL_PATH)]
        model: PathBuf,
    },
    /// Write a tiny llama GGUF with random weights (for tests and trying things out).
    Tiny {
        #[arg(long)]
        out: PathBuf,
        /// Another variant has other weights, and so is another model version.
        #[arg(long, default_value_t = 0)]
        variant: u64,
    },
}

impl StoreArgs {
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("parley.db").display()))
    }

    pub async fn open(&self) -> anyhow::Result<SqlStore> {
        if self.database_url.is_none() {
            std::fs::create_dir_all(&self.data_dir)
                .with_context(|| format!("cannot create the data folder {}", self.data_dir.display()))?;
        }
        let store = SqlStore::connect(&self.url()).await?;
        store.migrate().await?;
        Ok(store)
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => crate::http::serve(cli.serve).await,
        Some(Command::Serve(args)) => crate::http::serve(*args).await,
        Some(Command::Migrate(store)) => {
            store.open().await?;
            println!("migrations applied");
            Ok(())
        }
        Some(Command::User(UserCommand::Add { email, role, password_stdin, store })) => {
            add_user(&store, &email, role, password_stdin).await
        }
        Some(Command::User(UserCommand::List { store })) => {
            for user in store.open().await?.list_users().await? {
                let state = match (&user.deactivated_at, user.must_change_password) {
                    (Some(at), _) => format!("deactivated {at}"),
                    (None, true) => "active, one-time password".into(),
                    (None, false) => "active".into(),
                };
                println!("{}\t{}\t{state}", user.email, user.role);
            }
            Ok(())
        }
        Some(Command::User(UserCommand::Password { email, store })) => {
            let store = store.open().await?;
            let user = account(&store, &email).await?;
            let given = app::ssr::give_one_time_password(&store, user.id).await?;
            println!("one-time password for {}: {}", given.email, given.password);
            Ok(())
        }
        Some(Command::User(UserCommand::Deactivate { email, store })) => {
            set_active(&store, &email, false).await
        }
        Some(Command::User(UserCommand::Activate { email, store })) => set_active(&store, &email, true).await,
        Some(Command::Model(ModelCommand::Check { model })) => {
            let checked = model_file::check(&model).await?;
            let loaded = crate::model::load(&model, checked.sha256.clone()).await?;
            println!("{checked}: {} loads", loaded.info.name);
            Ok(())
        }
        Some(Command::Model(ModelCommand::Tiny { out, variant })) => {
            crate::model::tiny::write(&out, variant)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Some(Command::Key(KeyCommand::Add { name, store })) => {
            let secret = format!("{}{}", app::api::keys::API_KEY_PREFIX, app::ssr::random_token());
            let store = store.open().await?;
            let key = store
                .create_api_key(uuid::Uuid::new_v4(), name.trim(), &app::ssr::token_hash(&secret), None)
                .await?;
            println!("created API key {:?} ({})", key.name, key.id);
            println!("{secret}");
            Ok(())
        }
        Some(Command::Bench(args)) => crate::bench::run(args).await,
        Some(Command::Import(args)) => crate::datasets::cli::import(args).await,
        Some(Command::Export(args)) => crate::datasets::cli::export(args).await,
        Some(Command::Reward(command)) => crate::reward::run(command).await,
        Some(Command::Seed(args)) => crate::datasets::cli::seed(args).await,
        Some(Command::BenchLoad(args)) => crate::bench_load::run(args).await,
        Some(Command::Routes) => {
            for route in crate::http::route_list() {
                println!("{route}");
            }
            Ok(())
        }
    }
}

/// Deactivates (its sessions end) or reactivates the account with this e-mail.
async fn set_active(store: &StoreArgs, email: &str, active: bool) -> anyhow::Result<()> {
    let store = store.open().await?;
    let user = account(&store, email).await?;
    store.set_active(user.id, active).await?;
    if active {
        println!("reactivated {}", user.email);
    } else {
        println!("deactivated {}; its sessions have ended", user.email);
    }
    Ok(())
}

/// The account with this e-mail, or an error that names it.
async fn account(store: &dyn Store, email: &str) -> anyhow::Result<app::domain::User> {
    let email = check_email(email)?;
    store
        .user_by_email(&email)
        .await?
        .map(|s| s.user)
        .with_context(|| format!("no account has the e-mail {email}"))
}

async fn add_user(store: &StoreArgs, email: &str, role: Role, password_stdin: bool) -> anyhow::Result<()> {
    let email = check_email(email)?;
    let (password, made_up) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password")?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (app::ssr::random_token(), true)
    };
    check_password(&password, &email)?;
    let store = store.open().await?;
    let password_hash = hash_password(password.clone()).await?;
    let user = store.create_user(NewUser { id: uuid::Uuid::new_v4(), email, password_hash, role }).await?;
    println!("created {} ({})", user.email, user.role);
    if made_up {
        println!("password: {password}");
    }
    Ok(())
}

fn parse_header_name(text: &str) -> Result<http::HeaderName, String> {
    http::HeaderName::from_bytes(text.trim().as_bytes()).map_err(|_| format!("{text:?} is not a header name"))
}

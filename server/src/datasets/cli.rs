//! `parley import`, `parley export` and `parley seed`.

use super::import::{ReadLimits, read};
use crate::cli::StoreArgs;
use crate::store::SqlStore;
use crate::store::datasets::NewImport;
use anyhow::{Context, bail};
use app::dataset::{ExportFormat, ExportOptions, FileType, ImportFormat};
use app::domain::Role;
use app::ssr::Store;
use clap::Args;
use std::path::PathBuf;
use uuid::Uuid;

/// Largest file `parley import` and the upload accept, unzipped, by default (MB).
pub const DEFAULT_MAX_IMPORT_MB: usize = 256;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A JSONL file (or .jsonl.gz).
    pub file: PathBuf,
    /// auto, instruction, messages, hh-rlhf, trl-preference, kwise, oasst or prompts.
    #[arg(long, default_value = "auto")]
    pub format: ImportFormat,
    /// Where the data came from, kept on each conversation [default: the file name].
    #[arg(long)]
    pub source: Option<String>,
    /// The account the conversations belong to [default: the first admin].
    #[arg(long = "as")]
    pub as_email: Option<String>,
    /// The import's id; running again with the same id imports nothing twice.
    #[arg(long)]
    pub id: Option<Uuid>,
    /// Largest turn, in KB.
    #[arg(long, default_value_t = 32)]
    pub max_message_kb: usize,
    /// Largest file, in MB (after unzipping).
    #[arg(long, default_value_t = DEFAULT_MAX_IMPORT_MB)]
    pub max_mb: usize,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Formats, comma-separated: sft, preference-trl, preference-openai, preference-hh,
    /// kwise, kto, filter-feedback, oasst-trees, or all.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub format: Vec<String>,
    /// Folder to write the files and manifest.json into.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub selection: Selection,
    /// Only texts of this model version (its id).
    #[arg(long)]
    pub model_version: Option<Uuid>,
    /// SFT: `accepted` for reviewed demonstrations only [default: submitted and accepted].
    #[arg(long)]
    pub status: Option<String>,
    /// Preference pairs: also a pair of margin 0 for each tie.
    #[arg(long)]
    pub ties: bool,
    /// Split train/test by conversation with this seed.
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Share of conversations that go to test.
    #[arg(long, default_value_t = 0.1)]
    pub test_ratio: f64,
    /// Replace trainer ids by pseudonyms made with this seed.
    #[arg(long)]
    pub pseudonym_seed: Option<u64>,
    /// File types, comma-separated: jsonl, parquet. Parquet is written for sft, the
    /// preference formats, kwise and kto.
    #[arg(long, value_delimiter = ',', default_value = "jsonl")]
    pub file_type: Vec<FileType>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The filters an export and a reward model's training share.
#[derive(Args, Debug, Clone)]
pub struct Selection {
    /// First day (YYYY-MM-DD) of the items' last change.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), included.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this trainer's work (e-mail).
    #[arg(long)]
    pub trainer: Option<String>,
    /// Only conversations from this source: `parley` or an import's source.
    #[arg(long)]
    pub source: Option<String>,
}

impl Selection {
    /// The export options of these filters (the trainer's account found by e-mail).
    pub async fn options(&self, store: &SqlStore) -> anyhow::Result<ExportOptions> {
        let trainer = match &self.trainer {
            Some(email) => Some(
                store.user_by_email(email).await?.with_context(|| format!("no account {email}"))?.user.id,
            ),
            None => None,
        };
        Ok(ExportOptions {
            from: self.from.clone(),
            to: self.to.clone(),
            trainer,
            source: self.source.clone(),
            ..Default::default()
        })
    }
}

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// Fill the database with synthetic chats, comparisons (K = 4) and rankings that make
    /// about this many preference pairs (6 a ranking).
    #[arg(long)]
    pub synthetic: u64,
    /// Also this many comparisons ready to rank and not ranked yet (one ranking owed each),
    /// at the end of the rank queue.
    #[arg(long, default_value_t = 0)]
    pub open: u64,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The account an import belongs to: the one named, else the first admin.
pub async fn owner(store: &SqlStore, email: Option<&str>) -> anyhow::Result<Uuid> {
    if let Some(email) = email {
        let user = store.user_by_email(email).await?.with_context(|| format!("no account {email}"))?;
        return Ok(user.user.id);
    }
    let users = store.list_users().await?;
    let mut admins: Vec<_> = users.into_iter().filter(|u| u.role == Role::Admin).collect();
    admins.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    admins.first().map(|u| u.id).context("no admin yet: create one first (parley user add --role admin)")
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let bytes = super::read_file(file, args.max_mb << 20)
        .map_err(|problem| anyhow::anyhow!("{}: {problem}", args.file.display()))?;
    let limits = ReadLimits { text_bytes: args.max_message_kb * 1024, turns: 10_000 };
    let parsed = match read(&bytes, args.format, limits) {
        Ok(parsed) => parsed,
        Err(refusal) => {
            for problem in &refusal.problems {
                eprintln!("{}: {problem}", args.file.display());
            }
            if refusal.total > refusal.problems.len() {
                eprintln!("… and {} more", refusal.total - refusal.problems.len());
            }
            bail!("nothing imported: {} problem(s) in {}", refusal.total, args.file.display());
        }
    };
    let store = args.store.open().await?;
    let file_name = args.file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let new = NewImport {
        id: args.id.unwrap_or_else(Uuid::new_v4),
        source: args.source.clone().unwrap_or_else(|| file_name.clone()),
        file_name,
        by: owner(&store, args.as_email.as_deref()).await?,
    };
    let done = store.store_import(&new, &parsed).await?;
    println!(
        "imported {} ({}, {} rows): {} conversations, {} prompts, {} duplicates skipped, {} comparisons with {} rankings; import {}",
        done.file_name,
        done.format.as_str(),
        done.rows,
        done.conversations,
        done.prompts,
        done.duplicates,
        done.comparisons,
        done.rankings,
        done.id
    );
    Ok(())
}

pub fn formats(names: &[String]) -> anyhow::Result<Vec<ExportFormat>> {
    if names.iter().any(|n| n == "all") {
        return Ok(ExportFormat::ALL.to_vec());
    }
    names.iter().map(|n| n.parse::<ExportFormat>().map_err(anyhow::Error::msg)).collect()
}

/// Checks the options an export is asked for (the page and the command line alike).
pub fn check_options(options: &ExportOptions) -> Result<(), (&'static str, String)> {
    for (field, day) in [("from", &options.from), ("to", &options.to)] {
        if let Some(day) = day
            && time::Date::parse(day, time::macros::format_description!("[year]-[month]-[day]")).is_err()
        {
            return Err((field, format!("{day:?} is not a day (YYYY-MM-DD)")));
        }
    }
    if !(0.0..=1.0).contains(&options.test_ratio) {
        return Err(("test_ratio", "the test share is between 0 and 1".into()));
    }
    if let Some(status) = &options.status
        && !["submitted", "accepted"].contains(&status.as_str())
    {
        return Err(("status", "status is submitted or accepted".into()));
    }
    Ok(())
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let formats = formats(&args.format)?;
    if !args.file_type.contains(&FileType::Jsonl)
        && let Some(format) = formats.iter().find(|f| !f.has_parquet())
        && !args.format.iter().any(|n| n == "all")
    {
        bail!("--format {}: it has no Parquet form; ask for --file-type jsonl", format.as_str());
    }
    let store = args.store.open().await?;
    let options = ExportOptions {
        model_version: args.model_version,
        status: args.status,
        ties: args.ties,
        split_seed: args.split_seed,
        test_ratio: if args.split_seed.is_some() { args.test_ratio } else { 0.0 },
        pseudonym_seed: args.pseudonym_seed,
        ..args.selection.options(&store).await?
    };
    check_options(&options)
        .map_err(|(field, message)| anyhow::anyhow!("--{}: {message}", field.replace('_', "-")))?;
    let started = std::time::Instant::now();
    let manifest = super::export_to_dir(&store, &formats, options, &args.file_type, &args.out).await?;
    for file in &manifest.files {
        println!("{:<32} {:>10} rows {:>14} bytes  sha256 {}", file.name, file.rows, file.bytes, file.sha256);
    }
    println!(
        "wrote {} in {:.2} s",
        args.out.join("manifest.json").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Synthetic data for the export benchmark: one trainer, one model version, and per ranking
/// a chat (question and reply), a comparison of four completions with its context, and a
/// full ranking.
pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let rankings = args.synthetic.div_ceil(6);
    let started = std::time::Instant::now();
    store.seed_synthetic(rankings, args.open, false).await?;
    println!(
        "seeded {rankings} rankings of 4 completions ({} preference pairs) and {} open comparisons in {:.1} s",
        rankings * 6,
        args.open,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

//! A reward model trained on the studio's own comparisons: `parley reward train` reads the
//! preference pairs an export would write (same filters, same train/test split by
//! conversation and seed), reads features of every reply from Parley's own forward pass
//! (the hidden state after the reply's last token, at chosen layers of a model Parley
//! serves), trains a Bradley–Terry head on them with candle-nn, and reports held-out
//! pairwise accuracy with a bootstrap interval, a random-label control and calibration.
//! `parley reward score` scores prompt/completion pairs with a saved head.

pub mod doubt;
pub mod finetune;
pub mod head;
pub mod job;

use crate::cli::StoreArgs;
use crate::datasets::cli::Selection;
use crate::datasets::export::Exporter;
use crate::datasets::sink::Sink;
use crate::model::engine::Engine;
use crate::store::SqlStore;
use anyhow::{Context, bail};
use app::dataset::{ExportFormat, ExportOptions, Part};
use app::model::ChatMessage;
use app::reward::{DOUBT_THRESHOLD, GroupFigures, HeadFigures, Reading, RewardOptions, RewardResult};
use clap::{Args, Subcommand};
use head::{Pair, TrainOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub enum RewardCommand {
    /// Train a reward model's head on the preference pairs of an export selection, and
    /// print its held-out accuracy beside a random-label control.
    Train(TrainArgs),
    /// Score prompt/completion pairs (JSONL: `prompt` as a string or messages, `completion`
    /// as a string or an assistant message) with a saved head; prints each line with `score`.
    Score(ScoreArgs),
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The base model: a GGUF file Parley serves.
    #[arg(long, env = "PARLEY_MODEL", default_value = crate::model_file::DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// The rankings to learn from, as an export selects them.
    #[command(flatten)]
    pub selection: Selection,
    /// The split, as the export makes it: by conversation, with this seed.
    #[arg(long, default_value_t = 7)]
    pub split_seed: u64,
    /// Share of conversations held out for the test.
    #[arg(long, default_value_t = 0.2)]
    pub test_ratio: f64,
    /// Layers whose hidden state is a feature set (counted from 1; the last is the final,
    /// normalized state); a head is trained on each and the best on validation is kept.
    #[arg(long, value_delimiter = ',', default_value = app::reward::DEFAULT_LAYERS)]
    pub layers: Vec<usize>,
    /// Tokens of the conversation kept before a reply (the newest).
    #[arg(long, default_value_t = 256)]
    pub max_prompt_tokens: usize,
    /// Tokens of a reply read (its first).
    #[arg(long, default_value_t = 128)]
    pub max_reply_tokens: usize,
    /// Train and test on this many splits (seeds split-seed, split-seed + 1, …), the
    /// features read once, and print each split's figures and their mean: one split's
    /// accuracy moves by several points with the split alone. The first split's head is
    /// the one saved.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=20))]
    pub splits: u64,
    /// Use at most this many comparisons (the first by id), for a quick look.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Threads for the model [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Folder to write the head (head.safetensors) and its config (reward.json) into.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also time training steps of the model's top layer (f32, with gradients) and print
    /// what one pass over the training replies would take, beside the head's time.
    #[arg(long)]
    pub fine_tune_cost: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A folder `parley reward train --out` wrote.
    #[arg(long)]
    pub model: PathBuf,
    /// The base model's GGUF file (its SHA-256 must be the one the head was trained on).
    #[arg(long, env = "PARLEY_MODEL", default_value = crate::model_file::DEFAULT_MODEL_PATH)]
    pub base: PathBuf,
    /// JSONL of prompt/completion pairs.
    pub input: PathBuf,
}

/// Export lines gathered in memory with the side of the split each went to.
#[derive(Default)]
struct Gather {
    rows: Vec<(Part, Vec<u8>)>,
}

#[async_trait::async_trait]
impl Sink for Gather {
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()> {
        self.rows.push((part, line.to_vec()));
        Ok(())
    }
}

/// One exported pair: indices into `replies` of its group, and where it came from.
struct PairRow {
    group: usize,
    chosen: usize,
    rejected: usize,
    test: bool,
    comparison: String,
    ranking: String,
    trainer: String,
    /// The model versions that wrote the two replies (none for imported text).
    models: [Option<String>; 2],
}

/// The comparisons to learn from: each prompt with its distinct replies, and the pairs
/// between them.
#[derive(Default)]
struct Data {
    groups: Vec<(Vec<ChatMessage>, Vec<String>)>,
    pairs: Vec<PairRow>,
}

fn message_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(list) => list.first().and_then(|m| m["content"].as_str()).map(str::to_string),
        Value::Object(map) => map.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn gather(rows: Vec<(Part, Vec<u8>)>, limit: Option<usize>) -> anyhow::Result<Data> {
    let mut data = Data::default();
    let mut by_comparison: HashMap<String, usize> = HashMap::new();
    for (part, line) in rows {
        let row: Value = serde_json::from_slice(&line).context("an exported pair")?;
        let comparison = row["comparison_id"].as_str().unwrap_or_default().to_string();
        let group = match by_comparison.get(&comparison) {
            Some(&g) => g,
            None => {
                if limit.is_some_and(|l| data.groups.len() >= l) {
                    continue;
                }
                let prompt: Vec<ChatMessage> =
                    serde_json::from_value(row["prompt"].clone()).context("a pair's prompt")?;
                data.groups.push((prompt, vec![]));
                by_comparison.insert(comparison.clone(), data.groups.len() - 1);
                data.groups.len() - 1
            }
        };
        let mut index = |value: &Value| -> anyhow::Result<usize> {
            let text = message_text(value).context("a pair's reply")?;
            let replies = &mut data.groups[group].1;
            Ok(replies.iter().position(|r| *r == text).unwrap_or_else(|| {
                replies.push(text);
                replies.len() - 1
            }))
        };
        let (chosen, rejected) = (index(&row["chosen"])?, index(&row["rejected"])?);
        let text = |field: &str| row[field].as_str().unwrap_or_default().to_string();
        let model = |field: &str| row[field].as_str().map(str::to_string);
        data.pairs.push(PairRow {
            group,
            chosen,
            rejected,
            test: part == Part::Test,
            comparison,
            ranking: text("ranking_id"),
            trainer: text("trainer"),
            models: [model("chosen_model"), model("rejected_model")],
        });
    }
    Ok(data)
}

/// The model file, checked and hashed as the server checks the files it serves (its
/// SHA-256 is the base model's version), loaded on `threads` cores.
fn load_engine(path: &Path, threads: Option<usize>) -> anyhow::Result<(Engine, String)> {
    let sha256 = crate::model_file::check_blocking(path)?.sha256.unwrap_or_default();
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let engine = Engine::load_with_threads(path, Some(sha256.clone()), threads)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((engine, sha256))
}

/// Mean and sample standard deviation.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

pub async fn run(command: RewardCommand) -> anyhow::Result<()> {
    match command {
        RewardCommand::Train(args) => train(args).await,
        RewardCommand::Score(args) => tokio::task::spawn_blocking(move || score(args)).await?,
    }
}

/// How a run tells where it is and learns that it should stop.
pub struct Watch {
    /// Share done (0 to 1) and what it is doing; called from the training thread.
    pub report: Box<dyn Fn(f64, String) + Send + Sync>,
    pub cancelled: Box<dyn Fn() -> bool + Send + Sync>,
}

/// What a finished run made: its figures, the head kept, and the features it read (a run
/// on the same selection with another split reuses them).
pub struct Trained {
    pub result: RewardResult,
    pub head: head::Head,
    pub features: Arc<Features>,
}

/// Every reply's features at each layer (`rows[tap][reply]`), as read for `layers` and
/// `limits`, and the seconds that took.
pub struct Features {
    layers: Vec<usize>,
    limits: (usize, usize),
    rows: Vec<Vec<Vec<f32>>>,
    secs: f64,
    /// Tokens of every reply's sequence (its prompt's and its own), summed.
    tokens: usize,
}

/// Trains on the ranked comparisons `selection` picks (its split set from `options`): reads
/// the pairs as the TRL preference export writes them, the features of every reply from
/// `model`, and trains a head on each layer's; keeps the best on validation, and trains
/// the control on it.
pub async fn pipeline(
    store: &SqlStore,
    selection: ExportOptions,
    options: &RewardOptions,
    model: &Path,
    threads: Option<usize>,
    watch: Watch,
    read_before: Option<Arc<Features>>,
) -> anyhow::Result<Trained> {
    let started = Instant::now();
    let selection =
        ExportOptions { split_seed: Some(options.split_seed), test_ratio: options.test_ratio, ..selection };
    crate::datasets::cli::check_options(&selection)
        .map_err(|(field, message)| anyhow::anyhow!("{field}: {message}"))?;
    let mut sink = Gather::default();
    Exporter::new(store, selection).await?.write(ExportFormat::PreferenceTrl, &mut sink).await?;
    let data = gather(sink.rows, options.limit)?;
    let batches = store.batches_of_comparisons().await?;
    let (test_pairs, train_pairs) =
        (data.pairs.iter().filter(|p| p.test).count(), data.pairs.iter().filter(|p| !p.test).count());
    if train_pairs == 0 || test_pairs == 0 {
        bail!(
            "{train_pairs} pairs in train and {test_pairs} in test: the selection needs ranked comparisons on both sides of the split"
        );
    }
    let (model, options) = (model.to_path_buf(), options.clone());
    tokio::task::spawn_blocking(move || {
        let (engine, sha256) = load_engine(&model, threads)?;
        let limits = (options.max_prompt_tokens, options.max_reply_tokens);
        let total = data.groups.len();
        let replies: usize = data.groups.iter().map(|g| g.1.len()).sum();
        let reusable = read_before.filter(|f| {
            f.layers == options.layers
                && f.limits == limits
                && f.rows.first().is_some_and(|r| r.len() == replies)
        });
        let read = match reusable {
            Some(read) => read,
            None => {
                let features_started = Instant::now();
                let mut rows: Vec<Vec<Vec<f32>>> = vec![vec![]; options.layers.len()];
                let mut tokens = 0;
                for (i, (prompt, replies)) in data.groups.iter().enumerate() {
                    if (watch.cancelled)() {
                        bail!("cancelled");
                    }
                    let (asked, answers) =
                        engine.reply_tokens(prompt, replies, limits).map_err(anyhow::Error::msg)?;
                    tokens += answers.iter().map(|a| asked.len() + a.len()).sum::<usize>();
                    let states =
                        engine.token_states(&asked, &answers, &options.layers).map_err(anyhow::Error::msg)?;
                    for state in states {
                        for (tap, values) in state.into_iter().enumerate() {
                            rows[tap].push(values);
                        }
                    }
                    (watch.report)(
                        0.95 * (i + 1) as f64 / total as f64,
                        format!(
                            "features: {} of {total} comparisons, {:.0} s",
                            i + 1,
                            features_started.elapsed().as_secs_f64()
                        ),
                    );
                }
                let secs = features_started.elapsed().as_secs_f64();
                Arc::new(Features { layers: options.layers.clone(), limits, rows, secs, tokens })
            }
        };
        let (features, feature_secs) = (&read.rows, read.secs);
        // Rows of `features[tap]`: each group's replies, one group after another.
        let mut first = vec![0usize; total];
        let mut at = 0;
        for (g, group) in data.groups.iter().enumerate() {
            first[g] = at;
            at += group.1.len();
        }
        let pair = |p: &PairRow| Pair {
            chosen: first[p.group] + p.chosen,
            rejected: first[p.group] + p.rejected,
            group: p.group,
        };
        let train: Vec<Pair> = data.pairs.iter().filter(|p| !p.test).map(pair).collect();
        let test_rows: Vec<&PairRow> = data.pairs.iter().filter(|p| p.test).collect();
        let test: Vec<Pair> = test_rows.iter().map(|p| pair(*p)).collect();
        let train_options = TrainOptions { seed: options.split_seed, ..Default::default() };
        let cancelled = || (watch.cancelled)();
        let reading_of = |tap: usize, reading: Reading| -> std::borrow::Cow<'_, [Vec<f32>]> {
            match reading {
                Reading::LastAndMean => std::borrow::Cow::Borrowed(&features[tap][..]),
                Reading::Last => {
                    std::borrow::Cow::Owned(features[tap].iter().map(|f| reading.of(f).to_vec()).collect())
                }
            }
        };
        let fit = |x: &[Vec<f32>],
                   layer: usize,
                   reading: Reading,
                   pairs: &[Pair],
                   label: String|
         -> anyhow::Result<(HeadFigures, head::Trained, head::Evaluation)> {
            (watch.report)(0.95, format!("training: {label}"));
            let trained = head::train(x, pairs, &train_options, &cancelled).map_err(anyhow::Error::msg)?;
            let scores: Vec<f32> = x.iter().map(|f| trained.head.score(f)).collect();
            let held = head::evaluate(&scores, &test, options.split_seed);
            let figures = HeadFigures {
                label,
                layer,
                reading,
                validation: f64::from(trained.curve[trained.best_step - 1].validation_accuracy),
                accuracy: held.accuracy,
                low: held.interval.0,
                high: held.interval.1,
                steps: trained.best_step,
            };
            Ok((figures, trained, held))
        };
        let mut heads: Vec<HeadFigures> = vec![];
        // (index into heads, tap, the head, its evaluation)
        let mut best: Option<(usize, usize, head::Trained, head::Evaluation)> = None;
        for (tap, &layer) in options.layers.iter().enumerate() {
            for reading in Reading::ALL {
                let label = format!("linear, layer {layer}, {}", reading.describe());
                let (figures, trained, held) = fit(&reading_of(tap, reading), layer, reading, &train, label)?;
                if best.as_ref().is_none_or(|(b, ..)| figures.validation > heads[*b].validation) {
                    best = Some((heads.len(), tap, trained, held));
                }
                heads.push(figures);
            }
        }
        let Some((kept_index, tap, kept, held)) = best else { bail!("no layers asked for") };
        let reading = heads[kept_index].reading;
        let x = reading_of(tap, reading);
        // The control: the best layer's head trained on labels flipped at random, exactly
        // half of them: flipping each with chance one half leaves a few more one way than
        // the other, and the first optimizer steps follow that remainder of the true labels
        // (controls of 46 to 59% on HH-RLHF before).
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(options.split_seed);
        let mut order: Vec<usize> = (0..train.len()).collect();
        rand::seq::SliceRandom::shuffle(&mut order[..], &mut rng);
        let mut flipped: Vec<Pair> = train.clone();
        for &i in &order[..train.len() / 2] {
            let p = train[i];
            flipped[i] = Pair { chosen: p.rejected, rejected: p.chosen, group: p.group };
        }
        let label = format!("random labels, layer {}, {}", options.layers[tap], reading.describe());
        let (control, _, _) = fit(&x, options.layers[tap], reading, &flipped, label)?;
        // The kept head on parts of the test pairs, and on every ranking for doubts.
        let scores: Vec<f32> = x.iter().map(|f| kept.head.score(f)).collect();
        let parts = |label_of: &dyn Fn(&PairRow) -> Vec<String>| -> Vec<GroupFigures> {
            let mut by: std::collections::BTreeMap<String, Vec<Pair>> = Default::default();
            for (row, p) in test_rows.iter().zip(&test) {
                for label in label_of(*row) {
                    by.entry(label).or_default().push(*p);
                }
            }
            by.into_iter()
                .map(|(label, pairs)| {
                    let held = head::evaluate(&scores, &pairs, options.split_seed);
                    GroupFigures {
                        label,
                        pairs: pairs.len(),
                        accuracy: held.accuracy,
                        low: held.interval.0,
                        high: held.interval.1,
                    }
                })
                .collect()
        };
        let by_batch = parts(&|row| {
            vec![
                batches
                    .get(&row.comparison)
                    .map_or_else(|| "none".to_string(), |b| b.get(..8).unwrap_or(b).to_string()),
            ]
        });
        let by_model = parts(&|row| {
            let mut names: Vec<String> =
                row.models.iter().map(|m| m.clone().unwrap_or_else(|| "imported text".to_string())).collect();
            names.dedup();
            names
        });
        let texts: Vec<String> = data.groups.iter().flat_map(|g| g.1.iter().cloned()).collect();
        let ranked: Vec<doubt::RankedPair> = data
            .pairs
            .iter()
            .map(|p| {
                let Pair { chosen, rejected, .. } = pair(p);
                doubt::RankedPair {
                    ranking: &p.ranking,
                    comparison: &p.comparison,
                    trainer: &p.trainer,
                    chosen,
                    rejected,
                }
            })
            .collect();
        // Doubts are read from scores of heads that never saw the ranking's comparison (a
        // head trained on a ranking learns its noise too): two heads of the kept kind, each
        // trained on the pairs of half the comparisons, score the other half.
        (watch.report)(
            0.97,
            "training: two heads on halves of the comparisons, for doubtful rankings".into(),
        );
        let fold =
            |g: usize| ((g as u64 ^ options.split_seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 63) as usize;
        let all: Vec<Pair> = data.pairs.iter().map(pair).collect();
        let mut unseen = vec![0f32; x.len()];
        for f in 0..2 {
            let fit_pairs: Vec<Pair> = all.iter().filter(|p| fold(p.group) != f).copied().collect();
            if fit_pairs.is_empty() {
                continue;
            }
            let half = head::train(&x, &fit_pairs, &train_options, &cancelled).map_err(anyhow::Error::msg)?;
            for (g, group) in data.groups.iter().enumerate().filter(|(g, _)| fold(*g) == f) {
                for row in first[g]..first[g] + group.1.len() {
                    unseen[row] = half.head.score(&x[row]);
                }
            }
        }
        let doubtful = doubt::doubts(&ranked, &unseen, &texts);
        let head_bytes = head_bytes(&kept.head)?;
        let result = RewardResult {
            comparisons: total,
            pairs_train: train.len(),
            pairs_test: test.len(),
            best_layer: options.layers[tap],
            kept: Some(kept_index),
            heads,
            control,
            calibration: held.calibration,
            curve: kept.curve.iter().map(|s| (s.step, s.train_loss, s.validation_loss)).collect(),
            feature_secs,
            total_secs: started.elapsed().as_secs_f64(),
            base_model_sha256: sha256,
            head_sha256: Sha256::digest(&head_bytes).iter().map(|b| format!("{b:02x}")).collect(),
            by_batch,
            by_model,
            doubtful,
        };
        Ok(Trained { result, head: kept.head, features: read.clone() })
    })
    .await?
}

/// The head as safetensors bytes.
fn head_bytes(head: &head::Head) -> anyhow::Result<Vec<u8>> {
    let tensors = head.tensors()?;
    Ok(safetensors::serialize(tensors.iter().map(|(name, t)| (name.as_str(), t)), None)?)
}

/// Writes the head (`head.safetensors`) and its config (`reward.json`) into `dir`.
pub fn save(dir: &Path, trained: &Trained, options: &RewardOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join("head.safetensors"), head_bytes(&trained.head)?)?;
    let best = trained.result.kept_head();
    let config = json!({
        "kind": "bradley-terry linear head on frozen features",
        "base_model_sha256": trained.result.base_model_sha256,
        "feature_layer": trained.result.best_layer,
        "feature_reading": best.map(|b| b.reading.as_str()),
        "max_prompt_tokens": options.max_prompt_tokens,
        "max_reply_tokens": options.max_reply_tokens,
        "head_sha256": trained.result.head_sha256,
        "accuracy": best.map(|b| b.accuracy),
        "interval": best.map(|b| [b.low, b.high]),
        "pairs_train": trained.result.pairs_train,
        "pairs_test": trained.result.pairs_test,
        "random_label_accuracy": trained.result.control.accuracy,
        "split_seed": options.split_seed,
        "test_ratio": options.test_ratio,
        "source": options.source,
    });
    std::fs::write(dir.join("reward.json"), serde_json::to_string_pretty(&config)? + "\n")?;
    Ok(())
}

async fn train(args: TrainArgs) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let selection = args.selection.options(&store).await?;
    let options = RewardOptions {
        source: selection.source.clone(),
        split_seed: args.split_seed,
        test_ratio: args.test_ratio,
        layers: args.layers.clone(),
        max_prompt_tokens: args.max_prompt_tokens,
        max_reply_tokens: args.max_reply_tokens,
        limit: args.limit,
    };
    let reported = std::sync::atomic::AtomicU64::new(0);
    let watch = Watch {
        // Every tenth of the features, and each head.
        report: Box::new(move |done, message| {
            let tenth = (done * 10.0 / 0.95) as u64;
            if tenth > reported.swap(tenth, std::sync::atomic::Ordering::Relaxed)
                || message.starts_with("training")
            {
                println!("{message}");
            }
        }),
        cancelled: Box::new(|| false),
    };
    let trained =
        pipeline(&store, selection.clone(), &options, &args.model, args.threads, watch, None).await?;
    let mut others: Vec<(u64, RewardResult)> = vec![];
    for i in 1..args.splits {
        let seed = options.split_seed + i;
        println!("split {} of {} (seed {seed}), the features read once", i + 1, args.splits);
        let quiet = Watch { report: Box::new(|_, _| {}), cancelled: Box::new(|| false) };
        let again = RewardOptions { split_seed: seed, ..options.clone() };
        let features = Some(trained.features.clone());
        let other =
            pipeline(&store, selection.clone(), &again, &args.model, args.threads, quiet, features).await?;
        others.push((seed, other.result));
    }
    let result = &trained.result;
    println!();
    println!(
        "{} comparisons, {} pairs in train and {} in test (split by conversation, seed {}, {} to test)",
        result.comparisons,
        result.pairs_train,
        result.pairs_test,
        options.split_seed,
        percent(options.test_ratio)
    );
    println!("{:<44} {:>10} {:>10} {:>18} {:>7}", "head", "validation", "test", "95% interval", "steps");
    for h in result.heads.iter().chain([&result.control]) {
        println!(
            "{:<44} {:>10} {:>10} {:>18} {:>7}",
            h.label,
            percent(h.validation),
            percent(h.accuracy),
            format!("{} to {}", percent(h.low), percent(h.high)),
            h.steps
        );
    }
    println!();
    println!("calibration of the kept head (predicted chance the first wins -> observed share, pairs):");
    for (predicted, observed, n) in &result.calibration {
        println!("  {:>6} -> {:>6}  ({n})", percent(*predicted), percent(*observed));
    }
    for (title, parts) in [("batch", &result.by_batch), ("model version", &result.by_model)] {
        println!();
        println!("held out, by {title}:");
        for g in parts {
            println!(
                "  {:<26} {:>10} {:>18} {:>7} pairs",
                g.label,
                percent(g.accuracy),
                format!("{} to {}", percent(g.low), percent(g.high)),
                g.pairs
            );
        }
    }
    println!();
    println!(
        "doubtful rankings: {} (the reward model gives the ranker's order {} or less, and the other trainers order {} or less of its pairs the same way)",
        result.doubtful.len(),
        percent(DOUBT_THRESHOLD),
        percent(DOUBT_THRESHOLD)
    );
    let best = result.kept_head().map_or(0.0, |h| h.accuracy);
    let splits: Vec<(u64, &RewardResult)> =
        std::iter::once((options.split_seed, result)).chain(others.iter().map(|(s, r)| (*s, r))).collect();
    let kept: Vec<f64> = splits.iter().filter_map(|(_, r)| r.kept_head().map(|h| h.accuracy)).collect();
    let (mean, sd) = mean_sd(&kept);
    if splits.len() > 1 {
        println!();
        println!("{} splits:", splits.len());
        println!("{:>6} {:<44} {:>10} {:>18} {:>10}", "seed", "kept head", "test", "95% interval", "control");
        for (seed, r) in &splits {
            if let Some(h) = r.kept_head() {
                println!(
                    "{seed:>6} {:<44} {:>10} {:>18} {:>10}",
                    h.label,
                    percent(h.accuracy),
                    format!("{} to {}", percent(h.low), percent(h.high)),
                    percent(r.control.accuracy)
                );
            }
        }
        println!("each head, mean held-out accuracy over the splits:");
        for (i, h) in result.heads.iter().enumerate() {
            let of: Vec<f64> =
                splits.iter().filter_map(|(_, r)| r.heads.get(i).map(|h| h.accuracy)).collect();
            let (m, d) = mean_sd(&of);
            println!("  {:<44} {:>10} (sd {:.1} points)", h.label, percent(m), 100.0 * d);
        }
    }
    println!();
    println!("measure                           value     target");
    println!("held-out pairwise accuracy   {:>10}   >= 65.0%", percent(best));
    if splits.len() > 1 {
        println!(
            "  kept head, mean of {} splits {:>6}   (sd {:.1} points)",
            splits.len(),
            percent(mean),
            100.0 * sd
        );
    }
    println!("random-label control         {:>10}   near 50%", percent(result.control.accuracy));
    println!("features (s)                 {:>10.0}", result.feature_secs);
    println!("training, all (min)          {:>10.1}   < 10", result.total_secs / 60.0);
    if args.fine_tune_cost {
        fine_tune_cost(&args, &trained)?;
    }
    if let Some(out) = &args.out {
        save(out, &trained, &options)?;
        println!("wrote {} and reward.json", out.join("head.safetensors").display());
    }
    Ok(())
}

/// Times training steps of the top layer (`finetune`) and prints what one pass over the
/// training replies' tokens would take.
fn fine_tune_cost(args: &TrainArgs, trained: &Trained) -> anyhow::Result<()> {
    let (engine, _) = load_engine(&args.model, args.threads)?;
    let config = engine.model().config.clone();
    drop(engine);
    let (replies, tokens) = (8, 192);
    let cost = finetune::time_steps(&config, (replies, tokens), 3, 1e-5)?;
    let r = &trained.result;
    let share = r.pairs_train as f64 / (r.pairs_train + r.pairs_test).max(1) as f64;
    let train_tokens = trained.features.tokens as f64 * share;
    let pass = cost.secs_per_token() * train_tokens;
    println!();
    println!(
        "fine-tuning the top layer (f32 with gradients, AdamW; {replies} replies x {tokens} tokens a step): {:.2} s a step, {:.1} ms a token",
        cost.step_secs,
        1000.0 * cost.secs_per_token()
    );
    println!(
        "  one pass over the training replies (about {:.0} tokens, each with its prompt): {:.1} min, \
         beside {:.1} min for the frozen-feature heads in all; the states below the layer come from the \
         features pass ({:.0} s), read once",
        train_tokens,
        pass / 60.0,
        r.total_secs / 60.0,
        r.feature_secs
    );
    Ok(())
}

/// A head saved by `save`, with what it reads: the base model's SHA-256, the layer, the
/// reading and the token limits of its features.
pub struct SavedHead {
    pub head: head::Head,
    pub base_model_sha256: String,
    layer: usize,
    reading: Reading,
    limits: (usize, usize),
}

impl SavedHead {
    /// Reads `head.safetensors` and `reward.json` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<SavedHead> {
        let config: Value = serde_json::from_slice(
            &std::fs::read(dir.join("reward.json"))
                .with_context(|| format!("cannot read {}", dir.join("reward.json").display()))?,
        )
        .context("reward.json")?;
        let tensors = candle_core::safetensors::load(dir.join("head.safetensors"), &candle_core::Device::Cpu)
            .with_context(|| format!("cannot read {}", dir.join("head.safetensors").display()))?;
        let head = head::Head::from_tensors(&tensors).map_err(anyhow::Error::msg)?;
        let layer = config["feature_layer"].as_u64().context("reward.json: feature_layer")? as usize;
        let reading: Reading = config["feature_reading"]
            .as_str()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| anyhow::anyhow!("reward.json: feature_reading: {e}"))?
            .unwrap_or_default();
        Ok(SavedHead {
            head,
            base_model_sha256: config["base_model_sha256"].as_str().unwrap_or_default().to_string(),
            layer,
            reading,
            limits: (
                config["max_prompt_tokens"].as_u64().unwrap_or(256) as usize,
                config["max_reply_tokens"].as_u64().unwrap_or(128) as usize,
            ),
        })
    }

    /// The head's score of each of `replies` to `prompt`, read through `engine` (the base
    /// model: the caller checks its SHA-256).
    pub fn scores(
        &self,
        engine: &Engine,
        prompt: &[ChatMessage],
        replies: &[String],
    ) -> anyhow::Result<Vec<f32>> {
        let states =
            engine.reply_states(prompt, replies, &[self.layer], self.limits).map_err(anyhow::Error::msg)?;
        states
            .iter()
            .map(|taps| {
                let x = self.reading.of(&taps[0]);
                if x.len() != self.head.weights.len() {
                    bail!(
                        "the head reads {} values and the base model gives {}",
                        self.head.weights.len(),
                        x.len()
                    );
                }
                Ok(self.head.score(x))
            })
            .collect()
    }
}

fn score(args: ScoreArgs) -> anyhow::Result<()> {
    let saved = SavedHead::load(&args.model)?;
    let (engine, sha256) = load_engine(&args.base, None)?;
    if saved.base_model_sha256 != sha256 {
        bail!(
            "{} has SHA-256 {sha256}; the head was trained on {}",
            args.base.display(),
            saved.base_model_sha256
        );
    }
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut row: Value =
            serde_json::from_str(line).with_context(|| format!("line {}: not JSON", i + 1))?;
        let prompt: Vec<ChatMessage> = match &row["prompt"] {
            Value::String(text) => vec![ChatMessage::new("user", text.clone())],
            value @ Value::Array(_) => serde_json::from_value(value.clone())
                .with_context(|| format!("line {}: prompt: not a list of messages", i + 1))?,
            _ => bail!("line {}: prompt: missing (a string or a list of messages)", i + 1),
        };
        let completion = message_text(&row["completion"])
            .with_context(|| format!("line {}: completion: missing", i + 1))?;
        let scores = saved.scores(&engine, &prompt, &[completion])?;
        row["score"] = json!(scores[0]);
        println!("{row}");
    }
    Ok(())
}

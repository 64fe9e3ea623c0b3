//! `parley bench`: the model's speed on this machine, printed beside the reference figures
//! that llama.cpp reached with the same Q4_1 file on the same kind of 2-core machine.

use crate::model::engine::Engine;
use crate::model_file::{self, DEFAULT_MODEL_PATH};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// GGUF model file.
    #[arg(long, env = "PARLEY_MODEL", default_value = DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// Prompt length in tokens.
    #[arg(long, default_value_t = 38)]
    pub prompt_tokens: usize,
    /// Tokens to generate per alternative.
    #[arg(long, default_value_t = 64)]
    pub new_tokens: usize,
    /// Alternatives of one prompt.
    #[arg(short = 'k', long, default_value_t = 4)]
    pub alternatives: usize,
    /// CPU threads for the model.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Runs per measure; the median is printed.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// Reference: llama.cpp on the same file and machine kind, 2 threads (issue 3).
const LLAMA_CPP_PROMPT: &str = "174-192";
const LLAMA_CPP_GENERATION: &str = "77";
const LLAMA_CPP_FOUR_BY_64_SECS: &str = "2.39";

const TEXT: &str = "The committee met on a grey morning to review the proposal for the new library. \
    Several members argued that the reading rooms should stay open late, while others worried \
    about the cost of heating and staff. After a long discussion they agreed to a trial of six \
    months, with a report to follow. ";

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    // candle's CPU kernels size their thread pool from this variable on first use.
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string()) };
    let checked = model_file::check(&args.model).await?;
    let engine = crate::model::load(&args.model, checked.sha256.clone())
        .await
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    tokio::task::spawn_blocking(move || measure(&engine, &args)).await?
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn measure(engine: &Engine, args: &BenchArgs) -> anyhow::Result<()> {
    let mut prompt = engine.encode(&TEXT.repeat(1 + args.prompt_tokens / 40)).map_err(anyhow::Error::msg)?;
    prompt.truncate(args.prompt_tokens);
    anyhow::ensure!(prompt.len() == args.prompt_tokens, "prompt text too short");
    let runs = args.runs.max(1);
    let mut prefill = vec![];
    let mut first_token = vec![];
    let mut decode = vec![];
    let mut alternatives = vec![];
    for _ in 0..runs {
        let timing = engine.time_generation(&prompt, 1, args.new_tokens).map_err(anyhow::Error::msg)?;
        prefill.push(timing.prefill);
        first_token.push(timing.first_token);
        decode.push(timing.total - timing.prefill);
        let timing = engine
            .time_generation(&prompt, args.alternatives, args.new_tokens)
            .map_err(anyhow::Error::msg)?;
        alternatives.push(timing.total);
    }
    let (prefill, first_token, decode, alternatives) =
        (median(prefill), median(first_token), median(decode), median(alternatives));
    let per_sec = |tokens: usize, time: Duration| tokens as f64 / time.as_secs_f64();
    println!(
        "parley bench: {} ({}), {} threads, prompt {} tokens, {} new tokens, K = {}, median of {runs}",
        engine.info.name,
        args.model.display(),
        args.threads,
        args.prompt_tokens,
        args.new_tokens,
        args.alternatives
    );
    println!("{:<34} {:>10}   llama.cpp reference (same file, 2 threads)", "measure", "parley");
    println!("{:<34} {:>10.1}   {LLAMA_CPP_PROMPT}", "prompt tokens/s", per_sec(args.prompt_tokens, prefill));
    println!(
        "{:<34} {:>10.1}   {LLAMA_CPP_GENERATION}",
        "generation tokens/s",
        per_sec(args.new_tokens.saturating_sub(1).max(1), decode)
    );
    println!("{:<34} {:>10.0}   -", "time to first token (ms)", first_token.as_secs_f64() * 1000.0);
    let reference = if args.alternatives == 4 && args.new_tokens == 64 && args.prompt_tokens == 38 {
        LLAMA_CPP_FOUR_BY_64_SECS
    } else {
        "-"
    };
    println!(
        "{:<34} {:>10.2}   {reference}",
        format!("{} alternatives x {} tokens (s)", args.alternatives, args.new_tokens),
        alternatives.as_secs_f64()
    );
    Ok(())
}

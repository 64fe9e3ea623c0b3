//! `parley bench`: the model's speed on this machine, printed beside the reference figures
//! that llama.cpp reached with the same Q4_1 file on the same kind of 2-core machine.

use crate::model::engine::Engine;
use crate::model::prefixes::DEFAULT_BUDGET_BYTES;
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
    /// Also time the quantized matrix-vector products alone, candle's beside Parley's.
    #[arg(long)]
    pub kernels: bool,
}

/// Reference: llama.cpp (llama-cpp-python 0.3.36's, AVX-512 build) on the same file and
/// machine kind, 2 threads, as `make bench-model` last measured it; that command runs both.
const LLAMA_CPP_PROMPT: &str = "283";
const LLAMA_CPP_GENERATION: &str = "114";
const LLAMA_CPP_FOUR_BY_64_SECS: &str = "1.56";

const TEXT: &str = "The committee met on a grey morning to review the proposal for the new library. \
    Several members argued that the reading rooms should stay open late, while others worried \
    about the cost of heating and staff. After a long discussion they agreed to a trial of six \
    months, with a report to follow. ";

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    // candle's CPU kernels (the --kernels comparison) size their pool from this variable.
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string()) };
    let checked = model_file::check(&args.model).await?;
    let (model, threads) = (args.model.clone(), args.threads);
    let load = |prefix_cache: usize| {
        let (path, sha256) = (model.clone(), checked.sha256.clone());
        async move {
            let mut engine =
                tokio::task::spawn_blocking(move || Engine::load_with_threads(&path, sha256, threads))
                    .await??;
            engine.set_prefix_cache(prefix_cache);
            anyhow::Ok(engine)
        }
    };
    let engine =
        load(DEFAULT_BUDGET_BYTES).await.with_context(|| format!("cannot load {}", model.display()))?;
    let (engine, args) =
        tokio::task::spawn_blocking(move || measure(&engine, &args).map(|()| (engine, args))).await??;
    let cached = concurrent(engine, &args).await?;
    let uncached = concurrent(load(0).await?, &args).await?;
    let row = |label: String, cached: f64, uncached: f64, ratio: String| {
        println!("{label:<34} {cached:>10.1}   {uncached:>10.1} without the prompts' cache{ratio}")
    };
    let label = format!("1 chat request x {CONCURRENT_TOKENS}, tokens/s");
    row(label, cached.one, uncached.one, String::new());
    let ratio = format!("   ({:.2}x one request; {:.2}x without)", cached.ratio, uncached.ratio);
    row(format!("{CONCURRENT} at once, total tokens/s"), cached.many, uncached.many, ratio);
    row(
        "next turn of a chat, first token ms".into(),
        cached.turn_first_token.as_secs_f64() * 1000.0,
        uncached.turn_first_token.as_secs_f64() * 1000.0,
        format!("   ({} prompt tokens)", cached.turn_tokens),
    );
    println!(
        "{:<34} {:>10.0}%   (of {} prompt tokens: what the requests share)",
        "prompt tokens found cached",
        100.0 * cached.reused as f64 / cached.prompt_tokens.max(1) as f64,
        cached.prompt_tokens
    );
    Ok(())
}

/// Chat requests of `CONCURRENT_TOKENS` tokens through the real worker: one alone, then
/// `CONCURRENT` at once, total tokens per second of each (the worker batches them).
const CONCURRENT: usize = 8;
const CONCURRENT_TOKENS: usize = 128;

/// What `concurrent` measured: tokens/s of one request and of `CONCURRENT` at once, the
/// prompt tokens sent, and those the prompts' cache held.
struct Concurrent {
    one: f64,
    many: f64,
    /// The median of each run's `many / one`.
    ratio: f64,
    prompt_tokens: u64,
    reused: u64,
    /// The next turn of a long chat: its prompt's tokens, and the time to its first token.
    turn_tokens: usize,
    turn_first_token: Duration,
}

/// A different request each time (people and places), so that only what chat prompts
/// share (the template's system prompt, the words they begin with) can come from the
/// prompts' cache.
fn story(index: usize) -> String {
    const WHO: [&str; 9] = [
        "a lighthouse keeper",
        "a baker",
        "a clockmaker",
        "a ferry pilot",
        "a beekeeper",
        "a glassblower",
        "a mapmaker",
        "a night nurse",
        "a violin maker",
    ];
    const WHERE: [&str; 6] =
        ["the sea", "a mountain village", "a desert town", "a river port", "an island", "a snowed-in city"];
    format!("Write a long story about {} and {}.", WHO[index % 9], WHERE[index / 9 % 6])
}

async fn concurrent(engine: Engine, args: &BenchArgs) -> anyhow::Result<Concurrent> {
    use crate::model::LocalModel;
    use app::model::{ChatMessage, SamplingParams};
    use app::ssr::model::{GenerationRequest, LanguageModel, collect};
    let model = std::sync::Arc::new(LocalModel::start(engine, CONCURRENT));
    while !model.info().ready {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let request = |index: usize| GenerationRequest {
        messages: vec![ChatMessage::new("user", story(index))],
        params: SamplingParams {
            temperature: 0.8,
            top_p: 0.95,
            top_k: 40,
            max_tokens: CONCURRENT_TOKENS,
            stop: vec![],
            seed: index as u64,
        },
        n: 1,
        trim_oldest: false,
        stops: Default::default(),
    };
    // One request, then `CONCURRENT` at once, `runs` times over: each pair runs at the
    // machine's speed of the moment (a shared machine's drifts by 15% between runs), and the
    // ratio is the median of the pairs' ratios.
    let (mut ones, mut manys) = (vec![], vec![]);
    let mut sent = 0;
    for _ in 0..args.runs.max(1) {
        for clients in [1, CONCURRENT] {
            let start = std::time::Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|_| {
                    let (model, request) = (model.clone(), request(sent));
                    sent += 1;
                    tokio::spawn(async move { collect(model.generate(request).await?, 1).await })
                })
                .collect();
            let mut tokens = 0;
            for task in tasks {
                tokens += task.await?.map_err(|err| anyhow::anyhow!("{err}"))?.completion_tokens;
            }
            let rate = tokens as f64 / start.elapsed().as_secs_f64();
            if clients == 1 { ones.push(rate) } else { manys.push(rate) }
        }
    }
    let ratios: Vec<f64> = ones.iter().zip(&manys).map(|(one, many)| many / one).collect();
    let stats = model.prefix_cache();
    let (turn_tokens, turn_first_token) = next_turn(&model, args.runs.max(1)).await?;
    Ok(Concurrent {
        one: median(ones),
        many: median(manys),
        ratio: median(ratios),
        prompt_tokens: stats.prompt_tokens,
        reused: stats.reused,
        turn_tokens,
        turn_first_token,
    })
}

/// A chat of six exchanges answered, then its next turn: the time from sending the next
/// turn to its first token (median of `runs` chats, each of its own).
async fn next_turn(model: &crate::model::LocalModel, runs: usize) -> anyhow::Result<(usize, Duration)> {
    use app::model::{ChatMessage, SamplingParams};
    use app::ssr::model::{GenerationEvent, GenerationRequest, LanguageModel, collect};
    let request = |messages: Vec<ChatMessage>| GenerationRequest {
        messages,
        params: SamplingParams { temperature: 0.0, max_tokens: 1, ..Default::default() },
        n: 1,
        trim_oldest: false,
        stops: Default::default(),
    };
    let mut times = vec![];
    let mut tokens = 0;
    for run in 0..runs {
        let mut messages = vec![];
        for turn in 0..6 {
            messages.push(ChatMessage::new("user", story(100 + 6 * run + turn)));
            messages.push(ChatMessage::new("assistant", TEXT));
        }
        messages.push(ChatMessage::new("user", "Go on."));
        collect(model.generate(request(messages.clone())).await?, 1).await?;
        messages.push(ChatMessage::new("assistant", "The keeper climbed the stairs again."));
        messages.push(ChatMessage::new("user", "And then?"));
        let start = std::time::Instant::now();
        let mut events = model.generate(request(messages)).await?;
        while let Some(event) = events.recv().await {
            match event {
                GenerationEvent::Started { prompt_tokens, .. } => tokens = prompt_tokens,
                GenerationEvent::Delta { .. } | GenerationEvent::Done { .. } => break,
                GenerationEvent::Failed { message } => anyhow::bail!("{message}"),
            }
        }
        times.push(start.elapsed());
        while events.recv().await.is_some() {}
    }
    Ok((tokens, median(times)))
}

/// The middle value (the upper one of an even count).
fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

fn measure(engine: &Engine, args: &BenchArgs) -> anyhow::Result<()> {
    engine.warm_up();
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
    if args.kernels {
        kernels(args.threads, args.runs.max(1))?;
    }
    Ok(())
}

/// One matrix times one vector, in the model's shapes (576 wide, 1,536 in the MLP), for each
/// block format: candle's `QMatMul` and `model::quant::Packed::matvec` on the same blocks,
/// the median of `runs` rounds of 200 products each, and how far apart their results are.
fn kernels(threads: usize, runs: usize) -> anyhow::Result<()> {
    use crate::model::quant::{self, Format, Q8Activations};
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};
    const ROUNDS: u32 = 200;
    let pool = crate::model::pool::Pool::new(threads);
    println!();
    println!(
        "quantized matrix x vector, {threads} threads, {} ({ROUNDS} products a round, median of {runs})",
        quant::Kernel::detect().name()
    );
    println!(
        "{:<22} {:>10} {:>10} {:>7}   {}",
        "format, rows x columns", "candle µs", "parley µs", "ratio", "error vs f32 (candle, parley)"
    );
    for (format, dtype) in [(Format::Q4_1, GgmlDType::Q4_1), (Format::Q8_0, GgmlDType::Q8_0)] {
        for (rows, columns) in [(576, 576), (1536, 576), (576, 1536)] {
            let device = Device::Cpu;
            let weights = Tensor::randn(0f32, 0.05, (rows, columns), &device)?;
            let qtensor = QTensor::quantize(&weights, dtype)?;
            let packed = quant::Packed::new(format, rows, columns, &qtensor.data()?);
            let decoded = qtensor.dequantize(&device)?;
            let candle = QMatMul::from_qtensor(qtensor)?;
            let x = Tensor::randn(0f32, 1.0, (1, columns), &device)?;
            let values: Vec<f32> = x.flatten_all()?.to_vec1()?;
            let mut ours = vec![0f32; rows];
            let time = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<Duration> {
                let mut rounds = vec![];
                for _ in 0..runs {
                    let start = std::time::Instant::now();
                    for _ in 0..ROUNDS {
                        f()?;
                    }
                    rounds.push(start.elapsed() / ROUNDS);
                }
                Ok(median(rounds))
            };
            let mut theirs = vec![];
            let candle_time = time(&mut || {
                theirs = candle.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
                Ok(())
            })?;
            // The activations are quantized inside each product, as candle does too.
            let parley_time = time(&mut || {
                packed.matvec(&Q8Activations::quantize(&values), &mut ours, &pool);
                Ok(())
            })?;
            // Both against the decoded weights times the f32 activations: the largest error as
            // a share of the largest value.
            let exact: Vec<f32> = x.matmul(&decoded.t()?)?.flatten_all()?.to_vec1()?;
            let scale = exact.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
            let error =
                |got: &[f32]| got.iter().zip(&exact).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale;
            println!(
                "{:<22} {:>10.1} {:>10.1} {:>6.2}x   {:.1e}, {:.1e}",
                format!("{format:?}, {rows} x {columns}"),
                candle_time.as_secs_f64() * 1e6,
                parley_time.as_secs_f64() * 1e6,
                candle_time.as_secs_f64() / parley_time.as_secs_f64(),
                error(&theirs),
                error(&ours)
            );
        }
    }
    Ok(())
}

//! The model adapter on the tiny generated GGUF: the real loading, tokenizing, sampling and
//! worker code, in milliseconds.

use super::engine::Engine;
use super::worker::LocalModel;
use app::model::{ChatMessage, FinishReason, SamplingParams};
use app::ssr::model::{GenerationEvent, GenerationRequest, LanguageModel, ModelError, collect};
use std::path::PathBuf;
use std::sync::OnceLock;

fn tiny_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("parley-tiny-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tiny.gguf");
        super::tiny::write(&path, 0).unwrap();
        path
    })
    .clone()
}

fn tiny() -> Engine {
    Engine::load(&tiny_path(), None).unwrap()
}

fn request(temperature: f64, max_tokens: usize, seed: u64, n: usize) -> GenerationRequest {
    GenerationRequest {
        messages: vec![ChatMessage::new("user", "Tell me about the 12 moons.")],
        params: SamplingParams { temperature, max_tokens, seed, ..Default::default() },
        n,
        trim_oldest: false,
        stops: Default::default(),
    }
}

/// Runs a request on the engine directly, collecting each alternative's text and deltas.
fn run(
    engine: &Engine,
    request: &GenerationRequest,
) -> (Vec<String>, Vec<Vec<String>>, Vec<Option<FinishReason>>) {
    let mut texts = vec![String::new(); request.n];
    let mut deltas = vec![vec![]; request.n];
    let mut finish = vec![None; request.n];
    engine
        .generate(request, &mut |event| {
            match event {
                GenerationEvent::Delta { index, text } => {
                    texts[index].push_str(&text);
                    deltas[index].push(text);
                }
                GenerationEvent::Done { index, finish_reason, .. } => finish[index] = Some(finish_reason),
                _ => {}
            }
            true
        })
        .unwrap();
    (texts, deltas, finish)
}

#[test]
fn tokenizer_round_trips_any_utf8_and_splits_digits() {
    let engine = tiny();
    for text in ["Hello, wörld!", "日本語のテキスト", "emoji 😀🎉 and\ttabs\nnew lines", "  leading spaces"]
    {
        let ids = engine.encode(text).unwrap();
        assert_eq!(engine.tokenizer().decode(&ids, false).unwrap(), text);
    }
    // "2024" is four tokens, one digit each, as the smollm pre-tokenizer demands.
    assert_eq!(engine.encode("2024").unwrap().len(), 4);
}

#[test]
fn chat_markers_are_single_special_tokens() {
    let engine = tiny();
    for marker in ["<|im_start|>", "<|im_end|>", "<|endoftext|>"] {
        let ids = engine.encode(marker).unwrap();
        assert_eq!(ids.len(), 1, "{marker} is {ids:?}");
        assert_eq!(engine.tokenizer().id_to_token(ids[0]).as_deref(), Some(marker));
    }
}

#[test]
fn greedy_decoding_is_identical_run_to_run() {
    let engine = tiny();
    let (first, _, _) = run(&engine, &request(0.0, 40, 1, 1));
    let (second, _, _) = run(&engine, &request(0.0, 40, 99, 1));
    assert!(!first[0].is_empty());
    assert_eq!(first, second, "greedy ignores the seed and repeats exactly");
}

#[test]
fn a_seed_reproduces_a_sample() {
    let engine = tiny();
    let (a, _, _) = run(&engine, &request(1.0, 40, 7, 1));
    let (b, _, _) = run(&engine, &request(1.0, 40, 7, 1));
    assert_eq!(a, b);
}

#[test]
fn forked_alternatives_equal_separate_runs_with_their_seeds() {
    // One prefill shared by K forks must give what K separate generations give.
    let engine = tiny();
    let (together, _, _) = run(&engine, &request(1.0, 30, 40, 3));
    for (i, text) in together.iter().enumerate() {
        let (alone, _, _) = run(&engine, &request(1.0, 30, 40 + i as u64, 1));
        assert_eq!(&alone[0], text, "alternative {i}");
    }
    assert!(together[0] != together[1] || together[1] != together[2], "different seeds, different texts");
}

#[test]
fn every_delta_is_whole_text_and_max_tokens_ends_with_length() {
    let engine = tiny();
    let (texts, deltas, finish) = run(&engine, &request(1.0, 25, 3, 2));
    for i in 0..2 {
        assert_eq!(deltas[i].concat(), texts[i]);
        assert!(finish[i].is_some());
    }
    if finish[0] == Some(FinishReason::Length) {
        assert!(!texts[0].is_empty());
    }
}

#[test]
fn stop_strings_end_the_text_before_them() {
    let engine = tiny();
    let (texts, _, _) = run(&engine, &request(0.0, 60, 0, 1));
    let text = &texts[0];
    // Pick a stop string from the middle of the greedy text, then ask again with it.
    let chars: Vec<char> = text.chars().collect();
    assert!(chars.len() >= 6, "greedy text too short to test: {text:?}");
    let stop: String = chars[chars.len() / 2..chars.len() / 2 + 2].iter().collect();
    let mut stopped = request(0.0, 60, 0, 1);
    stopped.params.stop = vec![stop.clone()];
    let (cut, _, finish) = run(&engine, &stopped);
    let expected = &text[..text.find(&stop).unwrap()];
    assert_eq!(cut[0], expected);
    assert_eq!(finish[0], Some(FinishReason::Stop));
}

#[test]
fn too_long_a_conversation_is_refused_with_the_numbers() {
    let engine = tiny();
    let mut long = request(0.0, 100, 0, 1);
    long.messages[0].content = "word ".repeat(3000);
    let err = engine.generate(&long, &mut |_| true).unwrap_err();
    assert!(err.contains("exceeds the model's context"), "{err}");
}

#[test]
fn trimming_leaves_out_the_oldest_turns_and_says_how_many() {
    let engine = tiny();
    let mut long = request(0.0, 100, 0, 1);
    // Two long exchanges, then a short question: only the question fits with the system prompt.
    long.messages = vec![
        ChatMessage::new("system", "Be brief."),
        ChatMessage::new("user", "word ".repeat(1500)),
        ChatMessage::new("assistant", "word ".repeat(1500)),
        ChatMessage::new("user", "word ".repeat(1500)),
        ChatMessage::new("assistant", "ok"),
        ChatMessage::new("user", "And now?"),
    ];
    assert!(engine.generate(&long, &mut |_| true).unwrap_err().contains("exceeds the model's context"));
    long.trim_oldest = true;
    let mut started = None;
    engine
        .generate(&long, &mut |event| {
            if let GenerationEvent::Started { prompt_tokens, trimmed, .. } = event {
                started = Some((prompt_tokens, trimmed));
            }
            true
        })
        .unwrap();
    let (prompt_tokens, trimmed) = started.unwrap();
    // The three long turns and the assistant turn that would then open the context.
    assert_eq!(trimmed, 4);
    assert!(prompt_tokens < 100, "{prompt_tokens}");
    // A last turn that alone is too long is still refused: it is never cut.
    long.messages = vec![ChatMessage::new("user", "word ".repeat(5000))];
    assert!(engine.generate(&long, &mut |_| true).is_err());
}

#[tokio::test]
async fn full_queue_is_refused_and_a_dropped_client_frees_the_worker() {
    let model = LocalModel::start(tiny(), 0);
    while !model.info().ready {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // A reader that never reads: the worker fills its buffer and waits on this request (four
    // alternatives sampled, so that the buffer fills before any of them ends).
    let stalled = model.generate(request(1.0, 400, 0, 4)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let busy = model.generate(request(0.0, 5, 0, 1)).await;
    assert!(matches!(busy, Err(ModelError::Busy { retry_after_secs }) if retry_after_secs > 0));
    // The client goes away: the worker stops that generation and takes new work.
    drop(stalled);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let events = loop {
        match model.generate(request(0.0, 5, 0, 1)).await {
            Ok(events) => break events,
            Err(ModelError::Busy { .. }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(err) => panic!("worker still busy after the client left: {err}"),
        }
    };
    let collected = collect(events, 1).await.unwrap();
    assert!(collected.finish[0].is_some());
}

#[tokio::test]
async fn bad_parameters_are_refused_by_name() {
    let model = LocalModel::start(tiny(), 1);
    let cases = [
        (request(3.0, 5, 0, 1), "temperature"),
        (request(0.0, 0, 0, 1), "max_tokens"),
        (request(0.0, 5, 0, 10), "n"),
    ];
    for (request, field) in cases {
        match model.generate(request).await {
            Err(ModelError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {:?}", other.map(|_| ())),
        }
    }
}

/// The forward pass of Parley's own against candle's generic llama on the same file, at the
/// prompt and at each of 12 greedy steps: the same next token every time, and the same
/// logits within f32 rounding for f32 weights. With weights in blocks both quantize the
/// activations to 8 bits, but candle rounds as ggml's scalar reference and Parley as
/// ggml's AVX2 path (what llama.cpp runs here; the SmolLM2 tests hold Parley to
/// llama.cpp's text), and candle rounds Q8_1's sum term as f16(f16(sum) x d). The tiny
/// model's random Q4_1 weights have minimums as large as their range, so that term
/// dominates its products. Measured: f32 within 1e-6 of the largest logit, Q8_0 equal to
/// the bit, Q4_1 within 2e-2.
#[test]
fn own_forward_pass_agrees_with_candles_llama() {
    use super::llama::{Item, Model};
    use candle_core::quantized::GgmlDType;
    use candle_core::quantized::gguf_file::Content;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;
    let dir = tempfile::tempdir().unwrap();
    // The last: 2 key-value heads for the 4 query heads (candle copies them per head).
    for (dtype, kv_heads) in
        [(GgmlDType::F32, 4), (GgmlDType::Q4_1, 4), (GgmlDType::Q8_0, 4), (GgmlDType::F32, 2)]
    {
        let path = dir.path().join(format!("tiny-{dtype:?}-{kv_heads}.gguf"));
        super::tiny::write_grouped(&path, 3, dtype, kv_heads).unwrap();
        let engine = Engine::load(&path, None).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        let content = Content::read(&mut file).unwrap();
        let mut reference = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        let content = Content::read(&mut file).unwrap();
        let ours = Model::load(&content, &mut file, 256, 2).unwrap();
        let mut tokens = engine.encode("Tell me about the 12 moons of the outer planets.").unwrap();
        let mut sequence = ours.sequence(64);
        let mut fed = tokens.clone();
        for step in 0..12 {
            let input = Tensor::new(fed.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            let position = tokens.len() - fed.len();
            let expected: Vec<f32> =
                reference.forward(&input, position).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let got = ours.forward(&mut [Item { sequence: &mut sequence, tokens: &fed }]).unwrap().remove(0);
            let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
            let error = expected.iter().zip(&got).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            // Parley's KV cache holds keys and values in half precision (as llama.cpp's
            // does), candle's in f32: a difference that quantizing the activations to 8 bits
            // can round one step up or down, layer after layer.
            let tolerance = match dtype {
                GgmlDType::F32 => 1e-3,
                _ => 4e-2,
            };
            assert!(error <= tolerance * scale, "{dtype:?}, step {step}: error {error} of {scale}");
            let argmax = |v: &[f32]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap() as u32;
            assert_eq!(argmax(&got), argmax(&expected), "{dtype:?}, step {step}");
            tokens.push(argmax(&got));
            fed = vec![argmax(&got)];
        }
        assert_eq!(sequence.len(), tokens.len() - 1);
    }
}

/// The query heads that share a key-value head read it together when a pass has rows
/// enough to keep both threads busy (a prompt, a batch), and one head a task when not (one
/// token of one sequence): the same logits to the bit either way.
#[test]
fn grouped_heads_give_the_same_logits_together_or_one_at_a_time() {
    use super::llama::Item;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-grouped.gguf");
    super::tiny::write_grouped(&path, 5, candle_core::quantized::GgmlDType::Q8_0, 2).unwrap();
    let engine = Engine::load_with_threads(&path, None, 2).unwrap();
    let model = engine.model();
    let tokens = engine.encode("Three query heads share each key-value head").unwrap();
    let mut whole = model.sequence(tokens.len());
    let together = model.forward(&mut [Item { sequence: &mut whole, tokens: &tokens }]).unwrap();
    let mut stepped = model.sequence(tokens.len());
    let mut alone = vec![];
    for token in &tokens {
        alone = model.forward(&mut [Item { sequence: &mut stepped, tokens: &[*token] }]).unwrap();
    }
    assert_eq!(together, alone);
}

/// A sequence's logits do not depend on what else is in its batch, to the bit: this is why
/// alternative i of a batched request equals a run of its own with seed + i.
#[test]
fn batched_sequences_equal_each_alone() {
    use super::llama::Item;
    let engine = tiny();
    let model = engine.model();
    let prompts = ["Hello there", "A longer prompt about the 12 moons", "x"];
    let alone: Vec<Vec<f32>> = prompts
        .iter()
        .map(|p| {
            let tokens = engine.encode(p).unwrap();
            let mut sequence = model.sequence(tokens.len());
            model.forward(&mut [Item { sequence: &mut sequence, tokens: &tokens }]).unwrap().remove(0)
        })
        .collect();
    let tokens: Vec<Vec<u32>> = prompts.iter().map(|p| engine.encode(p).unwrap()).collect();
    let mut sequences: Vec<_> = tokens.iter().map(|t| model.sequence(t.len())).collect();
    let mut items: Vec<Item> =
        sequences.iter_mut().zip(&tokens).map(|(sequence, tokens)| Item { sequence, tokens }).collect();
    let together = model.forward(&mut items).unwrap();
    assert_eq!(together, alone);
    // Forks of one prefix, stepped together, equal a fresh run of the whole text.
    let prefix_tokens = engine.encode("Once upon a time").unwrap();
    let mut base = model.sequence(prefix_tokens.len());
    model.forward(&mut [Item { sequence: &mut base, tokens: &prefix_tokens }]).unwrap();
    let prefix = base.into_prefix();
    let (mut a, mut b) = (model.fork(&prefix, 4), model.fork(&prefix, 4));
    let next = [[5u32], [9u32]];
    let forked = model
        .forward(&mut [
            Item { sequence: &mut a, tokens: &next[0] },
            Item { sequence: &mut b, tokens: &next[1] },
        ])
        .unwrap();
    for (i, token) in [5u32, 9].into_iter().enumerate() {
        let mut whole = prefix_tokens.clone();
        whole.push(token);
        let mut fresh = model.sequence(whole.len());
        let fresh = model.forward(&mut [Item { sequence: &mut fresh, tokens: &whole }]).unwrap().remove(0);
        let error = fresh.iter().zip(&forked[i]).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(error < 1e-4, "fork {i}: {error}");
    }
}

/// The tiny model with its matrices in `dtype`'s blocks, loaded.
fn tiny_in(dir: &std::path::Path, dtype: candle_core::quantized::GgmlDType) -> Engine {
    let path = dir.join(format!("tiny-{dtype:?}.gguf"));
    super::tiny::write_as(&path, 5, dtype).unwrap();
    Engine::load(&path, None).unwrap()
}

/// In a batch that mixes sequences summed by blocks (sampled ones) with sequences summed
/// as ggml sums (greedy ones), each gets the logits it gets alone, to the bit, on weights
/// in Q4_1 and in Q8_0; the two ways differ in the last bits only.
#[test]
fn a_batch_mixing_block_sums_and_ggml_s_gives_each_its_own() {
    use super::llama::Item;
    use candle_core::quantized::GgmlDType;
    let dir = tempfile::tempdir().unwrap();
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
        let engine = tiny_in(dir.path(), dtype);
        let model = engine.model();
        let tokens: Vec<Vec<u32>> = ["Hello there", "A longer prompt about the 12 moons", "x", "Why?"]
            .iter()
            .map(|p| engine.encode(p).unwrap())
            .collect();
        let blocks = |i: usize| i.is_multiple_of(2);
        let sequence = |i: usize| {
            let mut sequence = model.sequence(tokens[i].len());
            if blocks(i) {
                sequence.sample_sums();
            }
            sequence
        };
        let alone: Vec<Vec<f32>> = (0..tokens.len())
            .map(|i| {
                model
                    .forward(&mut [Item { sequence: &mut sequence(i), tokens: &tokens[i] }])
                    .unwrap()
                    .remove(0)
            })
            .collect();
        let mut sequences: Vec<_> = (0..tokens.len()).map(sequence).collect();
        let mut items: Vec<Item> =
            sequences.iter_mut().zip(&tokens).map(|(sequence, tokens)| Item { sequence, tokens }).collect();
        assert_eq!(model.forward(&mut items).unwrap(), alone, "{dtype:?}");
        // The same prompt summed the other way: close, and not the same bits.
        let mut ggml = model.sequence(tokens[0].len());
        let ggml = model.forward(&mut [Item { sequence: &mut ggml, tokens: &tokens[0] }]).unwrap().remove(0);
        let largest = ggml.iter().fold(0f32, |m, x| m.max(x.abs()));
        let apart = ggml.iter().zip(&alone[0]).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(apart > 0.0 && apart < 1e-3 * largest.max(1.0), "{dtype:?}: {apart} of {largest}");
    }
}

/// Alternative i of a sampled request (summed by blocks) is what a request of its own with
/// seed + i writes, on weights in blocks; a greedy request beside it writes what it
/// writes alone.
#[test]
fn sampled_alternatives_on_block_weights_equal_each_alone() {
    use candle_core::quantized::GgmlDType;
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_in(dir.path(), GgmlDType::Q4_1);
    let (texts, _, _) = run(&engine, &request(0.9, 16, 7, 3));
    for (i, text) in texts.iter().enumerate() {
        let (alone, _, _) = run(&engine, &request(0.9, 16, 7 + i as u64, 1));
        assert_eq!(text, &alone[0], "alternative {i}");
    }
    assert!(texts.iter().all(|text| !text.is_empty()));
}

#[test]
fn a_token_outside_the_vocabulary_is_refused() {
    use super::llama::Item;
    let engine = tiny();
    let model = engine.model();
    let mut sequence = model.sequence(1);
    let err = model.forward(&mut [Item { sequence: &mut sequence, tokens: &[1_000_000] }]).unwrap_err();
    assert!(err.contains("outside the vocabulary"), "{err}");
    assert!(sequence.is_empty());
}

#[test]
fn reply_states_are_each_replys_own_and_the_layers_asked_for() {
    use super::llama::Item;
    let engine = tiny();
    let model = engine.model();
    let layers = model.config.layers;
    let messages = vec![ChatMessage::new("user", "Which moon is largest?")];
    let replies = vec!["Ganymede.".to_string(), "I do not know, sorry.".to_string()];
    let limits = (256, 64);
    let together = engine.reply_states(&messages, &replies, &[1, layers], limits).unwrap();
    assert_eq!((together.len(), together[0].len(), together[0][0].len()), (2, 2, 2 * model.config.dim));
    // A reply's states do not depend on the other replies of its batch.
    for (i, reply) in replies.iter().enumerate() {
        let alone =
            engine.reply_states(&messages, std::slice::from_ref(reply), &[1, layers], limits).unwrap();
        for (a, b) in alone[0].iter().zip(&together[i]) {
            let error = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(error < 1e-4, "reply {i}: {error}");
        }
    }
    assert_ne!(together[0][1], together[1][1], "different replies, different states");
    // The final state is finite; a layer past the last is refused.
    let tokens = engine.encode("Once upon a time").unwrap();
    let mut sequence = model.sequence(tokens.len());
    let states = model.hidden(&mut [Item { sequence: &mut sequence, tokens: &tokens }], &[layers]).unwrap();
    assert!(states[0][0].iter().all(|v| v.is_finite()));
    let mut sequence = model.sequence(tokens.len());
    let err =
        model.hidden(&mut [Item { sequence: &mut sequence, tokens: &tokens }], &[layers + 1]).unwrap_err();
    assert!(err.contains("layers are 1 to"), "{err}");
}

/// A prompt run on top of a prefix made of several parts, one of them read only partly,
/// gives the logits a whole prompt gives, to the bit (what the prompts' cache relies on).
#[test]
fn a_prefix_in_parts_gives_the_logits_of_the_whole_prompt() {
    use super::llama::Item;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-grouped.gguf");
    super::tiny::write_grouped(&path, 3, candle_core::quantized::GgmlDType::Q8_0, 2).unwrap();
    for engine in [tiny(), Engine::load_with_threads(&path, None, 2).unwrap()] {
        let model = engine.model();
        let tokens = engine.encode("The 12 moons of the tiny model rise over a quiet sea at night").unwrap();
        assert!(tokens.len() >= 12, "{} tokens", tokens.len());
        let mut whole = model.sequence(tokens.len());
        let whole = model.forward(&mut [Item { sequence: &mut whole, tokens: &tokens }]).unwrap();
        let mut first = model.sequence(5);
        model.forward(&mut [Item { sequence: &mut first, tokens: &tokens[..5] }]).unwrap();
        let first = first.into_prefix();
        let mut second = model.fork(&first, 4);
        model.forward(&mut [Item { sequence: &mut second, tokens: &tokens[5..9] }]).unwrap();
        let second = second.into_prefix();
        assert_eq!(second.len(), 9);
        // Seven of the nine: the second part read up to its second token.
        let seven = second.truncate(7);
        assert_eq!(seven.len(), 7);
        let mut rest = model.fork(&seven, tokens.len() - 7);
        let continued = model.forward(&mut [Item { sequence: &mut rest, tokens: &tokens[7..] }]).unwrap();
        assert_eq!(continued, whole);
        assert_eq!(rest.len(), tokens.len());
    }
}

fn chat(turns: &[(&str, &str)], seed: u64) -> GenerationRequest {
    GenerationRequest {
        messages: turns.iter().map(|&(role, text)| ChatMessage::new(role, text)).collect(),
        params: SamplingParams { temperature: 1.0, max_tokens: 12, seed, ..Default::default() },
        n: 2,
        trim_oldest: false,
        stops: Default::default(),
    }
}

/// Requests that begin as earlier ones did (the next turn of a chat, another question after
/// the same system prompt, the same prompt again) run only the tokens past the cached ones,
/// and write exactly what an engine without the cache writes.
#[test]
fn requests_continuing_cached_prompts_write_what_a_fresh_run_writes() {
    let cached = tiny();
    let mut fresh = tiny();
    fresh.set_prefix_cache(0);
    let system = ("system", "You answer in one short sentence.");
    let first = [system, ("user", "Tell me about the 12 moons.")];
    let second = [
        system,
        ("user", "Tell me about the 12 moons."),
        ("assistant", "They are small."),
        ("user", "And the sun?"),
    ];
    let other = [system, ("user", "Write a poem about rain.")];
    let requests = [chat(&first, 1), chat(&second, 2), chat(&other, 3), chat(&first, 4), chat(&first, 1)];
    let mut expected_reused = 0;
    let mut seen: Vec<Vec<u32>> = vec![];
    for request in &requests {
        let (prompt, _) = cached.prompt(request).unwrap();
        let best = seen
            .iter()
            .map(|earlier| earlier.iter().zip(&prompt).take_while(|(a, b)| a == b).count())
            .max()
            .unwrap_or(0);
        expected_reused += best.min(prompt.len() - 1) as u64;
        seen.push(prompt);
        assert_eq!(run(&cached, request), run(&fresh, request), "{:?}", request.messages);
    }
    let stats = cached.prefix_cache();
    assert_eq!(stats.prompts, requests.len() as u64);
    assert_eq!(stats.reused, expected_reused);
    // The second turn continued the whole first prompt; the rest shared at least the system prompt.
    assert!(expected_reused as usize > seen[0].len() + 3 * 8, "{expected_reused}");
    // Three different prompts are kept (the repeated one once).
    assert_eq!(stats.entries, 3);
    let none = fresh.prefix_cache();
    assert_eq!((none.entries, none.bytes, none.reused), (0, 0, 0));
}

/// The cache keeps what its budget allows, forgetting the least recently used prompt first,
/// and counts a part that several prompts share once.
#[test]
fn the_prompts_cache_stays_within_its_budget() {
    use super::llama::Item;
    use super::prefixes::Prefixes;
    let engine = tiny();
    let model = engine.model();
    let prefill = |tokens: &[u32], on: &super::llama::Prefix| {
        let mut sequence = model.fork(on, tokens.len());
        model.forward(&mut [Item { sequence: &mut sequence, tokens }]).unwrap();
        sequence.into_prefix()
    };
    let a: Vec<u32> = (10..30).collect();
    let b: Vec<u32> = (40..60).collect();
    let c: Vec<u32> = (70..90).collect();
    let pa = prefill(&a, &Default::default());
    let one = pa.caches().next().unwrap().bytes();
    // Room for two prompts of 20 tokens.
    let mut cache = Prefixes::new(2 * one + one / 2);
    cache.insert(a.clone(), pa.clone());
    cache.insert(b.clone(), prefill(&b, &Default::default()));
    assert_eq!(cache.stats().bytes, 2 * one);
    // `a` used again, so `b` is the one forgotten for `c`.
    assert_eq!(cache.find(&[a.clone(), vec![1, 2]].concat(), 100).len(), a.len());
    cache.insert(c.clone(), prefill(&c, &Default::default()));
    assert_eq!(cache.stats().entries, 2);
    assert!(cache.find(&b, 100).is_empty());
    assert_eq!(cache.find(&c, 100).len(), c.len());
    // The limit: never the whole prompt when told so.
    assert_eq!(cache.find(&c, c.len() - 1).len(), c.len() - 1);
    // A prompt continuing `a` shares a's cache: counted once.
    let longer = [a.clone(), vec![5, 6, 7, 8]].concat();
    let continued = prefill(&longer[a.len()..], &pa);
    let before = cache.stats().bytes;
    cache.insert(longer.clone(), continued);
    assert!(cache.stats().bytes <= 2 * one + one / 2);
    assert!(cache.stats().bytes < before + one, "a's cache counted twice");
    // A prompt larger than the budget is not kept; a cache of 0 keeps nothing.
    let big: Vec<u32> = (100..160).collect();
    cache.insert(big.clone(), prefill(&big, &Default::default()));
    assert!(cache.find(&big, 100).is_empty());
    let mut none = Prefixes::new(0);
    none.insert(a.clone(), pa);
    assert_eq!(none.stats().entries, 0);
}

/// Twenty requests sent at once, several sharing a start, each write what they write alone
/// on an engine without the prompts' cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_requests_at_once_write_what_each_writes_alone() {
    let model = std::sync::Arc::new(LocalModel::start(tiny(), 20));
    let mut fresh = tiny();
    fresh.set_prefix_cache(0);
    let questions =
        ["Tell me about the 12 moons.", "Write a poem about rain.", "Why?", "Tell me about the 12"];
    let make =
        |i: usize| chat(&[("system", "Be brief."), ("user", questions[i % questions.len()])], i as u64);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (model, request) = (model.clone(), make(i));
            tokio::spawn(async move { collect(model.generate(request).await.unwrap(), 2).await.unwrap() })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let got = task.await.unwrap();
        let request = make(i);
        let (texts, _, _) = run(&fresh, &request);
        assert_eq!(got.texts, texts, "{:?}", request.messages);
    }
}

/// Requests that arrive together are prefilled in one forward pass (`Engine::begin_all`):
/// each still writes what it writes alone, and one whose prompt is refused fails alone.
#[test]
fn requests_started_together_write_what_each_writes_alone() {
    let mut fresh = tiny();
    fresh.set_prefix_cache(0);
    started_together_write_what_each_writes_alone(&tiny(), &fresh);
}

/// The same on weights in Q4_1 blocks, where the greedy requests sum as ggml does and the
/// sampled ones by blocks, in the same forward passes.
#[test]
fn greedy_and_sampled_requests_on_block_weights_write_what_each_writes_alone() {
    use candle_core::quantized::GgmlDType;
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_in(dir.path(), GgmlDType::Q4_1);
    let mut fresh = tiny_in(dir.path(), GgmlDType::Q4_1);
    fresh.set_prefix_cache(0);
    started_together_write_what_each_writes_alone(&engine, &fresh);
}

fn started_together_write_what_each_writes_alone(engine: &Engine, fresh: &Engine) {
    let mut too_long = request(0.0, 5, 0, 1);
    too_long.messages = vec![ChatMessage::new("user", "word ".repeat(5000))];
    let requests = [
        chat(&[("system", "Be brief."), ("user", "Tell me about the 12 moons.")], 3),
        too_long,
        request(0.0, 20, 0, 1),
        chat(&[("system", "Be brief."), ("user", "Why?")], 4),
        request(0.9, 16, 7, 3),
    ];
    let texts: Vec<std::cell::RefCell<Vec<String>>> =
        requests.iter().map(|r| std::cell::RefCell::new(vec![String::new(); r.n])).collect();
    let started = engine.begin_all(
        requests
            .iter()
            .zip(&texts)
            .map(|(request, texts)| {
                let sink: Box<super::engine::Sink<'_>> = Box::new(move |event| {
                    if let GenerationEvent::Delta { index, text } = event {
                        texts.borrow_mut()[index].push_str(&text);
                    }
                    true
                });
                (request, sink)
            })
            .collect(),
    );
    let mut running = vec![];
    for (i, started) in started.into_iter().enumerate() {
        match started {
            Err(message) => {
                assert_eq!(i, 1, "{message}");
                assert!(message.contains("exceeds the model's context"), "{message}");
            }
            Ok(started) => running.push(started.expect("a listener")),
        }
    }
    assert_eq!(running.len(), 4);
    // As the worker steps them: every sequence of every request in one forward pass.
    while !running.is_empty() {
        engine.draw(&mut running);
        running.retain_mut(|r| engine.sample(r).unwrap());
        let mut batch: Vec<_> = running.iter_mut().collect();
        engine.step(&mut batch).unwrap();
    }
    for (i, request) in requests.iter().enumerate().filter(|(i, _)| *i != 1) {
        let (alone, _, _) = run(fresh, request);
        assert_eq!(texts[i].borrow().clone(), alone, "request {i}");
        assert!(alone.iter().all(|text| !text.is_empty()), "request {i}");
    }
}

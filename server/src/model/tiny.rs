//! A tiny llama-architecture GGUF with random weights and a real byte-level BPE tokenizer,
//! written on demand. It runs the same loading, tokenizing and sampling code as a real
//! model, in milliseconds, so tests (and `parley model tiny`) need no download.

use super::chat_template::CHATML;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::path::Path;

const DIM: usize = 64;
const HIDDEN: usize = 128;
const HEADS: usize = 4;
const LAYERS: usize = 2;
const SPECIAL: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// GPT-2's byte-to-character table: printable bytes stand for themselves, the rest are
/// shifted past 255, so every byte has a visible one-character token.
fn byte_tokens() -> Vec<String> {
    let mut printable: Vec<u32> = (33..=126).chain(161..=172).chain(174..=255).collect();
    let mut chars = printable.clone();
    let mut shifted = 0;
    for byte in 0..256u32 {
        if !printable.contains(&byte) {
            printable.push(byte);
            chars.push(256 + shifted);
            shifted += 1;
        }
    }
    let mut by_byte: Vec<(u32, u32)> = printable.into_iter().zip(chars).collect();
    by_byte.sort();
    by_byte.into_iter().map(|(_, c)| char::from_u32(c).unwrap_or('?').to_string()).collect()
}

/// Deterministic pseudo-random weights (the same file every time for the same seed).
fn weights(seed: u64, rows: usize, cols: usize, dtype: GgmlDType) -> candle_core::Result<QTensor> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.4
        })
        .collect();
    let tensor = Tensor::from_vec(values, (rows, cols), &Device::Cpu)?;
    QTensor::quantize(&tensor, dtype)
}

fn ones(len: usize) -> candle_core::Result<QTensor> {
    QTensor::quantize(&Tensor::ones(len, candle_core::DType::F32, &Device::Cpu)?, GgmlDType::F32)
}

/// Writes the tiny model to `path`; another `variant` gives other weights (another version).
pub fn write(path: &Path, variant: u64) -> candle_core::Result<()> {
    write_as(path, variant, GgmlDType::F32)
}

/// The tiny model with its matrices stored as `dtype` (F32, Q4_1, Q8_0, ...).
pub fn write_as(path: &Path, variant: u64, dtype: GgmlDType) -> candle_core::Result<()> {
    write_grouped(path, variant, dtype, HEADS)
}

/// As `write_as`, with `kv_heads` key-value heads (a divisor of the 4 query heads) shared
/// by the query heads, as SmolLM2's 3 are by its 9.
pub fn write_grouped(
    path: &Path,
    variant: u64,
    dtype: GgmlDType,
    kv_heads: usize,
) -> candle_core::Result<()> {
    let weights =
        |seed: u64, rows, cols| weights(seed.wrapping_add(variant.wrapping_mul(7919)), rows, cols, dtype);
    let mut tokens = byte_tokens();
    let merges = ["Ġ t", "h e", "Ġt he", "i n", "a n"];
    for merge in merges {
        tokens.push(merge.replace(' ', ""));
    }
    let mut types = vec![1i32; tokens.len()];
    for special in SPECIAL {
        tokens.push(special.to_string());
        types.push(3);
    }
    let vocab = tokens.len();
    let eos = (vocab - 1) as u32;
    let strings = |items: Vec<String>| Value::Array(items.into_iter().map(Value::String).collect());
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("parley-tiny".into())),
        ("llama.context_length", Value::U32(4096)),
        ("llama.embedding_length", Value::U32(DIM as u32)),
        ("llama.feed_forward_length", Value::U32(HIDDEN as u32)),
        ("llama.block_count", Value::U32(LAYERS as u32)),
        ("llama.attention.head_count", Value::U32(HEADS as u32)),
        ("llama.attention.head_count_kv", Value::U32(kv_heads as u32)),
        ("llama.rope.dimension_count", Value::U32((DIM / HEADS) as u32)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("smollm".into())),
        ("tokenizer.ggml.tokens", strings(tokens)),
        ("tokenizer.ggml.token_type", Value::Array(types.into_iter().map(Value::I32).collect())),
        ("tokenizer.ggml.merges", strings(merges.iter().map(|m| m.to_string()).collect())),
        ("tokenizer.ggml.bos_token_id", Value::U32(eos)),
        ("tokenizer.ggml.eos_token_id", Value::U32(eos)),
        ("tokenizer.chat_template", Value::String(CHATML.into())),
    ];
    let mut tensors: Vec<(String, QTensor)> = vec![
        ("token_embd.weight".into(), weights(1, vocab, DIM)?),
        ("output_norm.weight".into(), ones(DIM)?),
        ("output.weight".into(), weights(2, vocab, DIM)?),
    ];
    for layer in 0..LAYERS {
        let seed = 100 * (layer as u64 + 1);
        let shapes = [
            ("attn_q", DIM, DIM),
            ("attn_k", kv_heads * DIM / HEADS, DIM),
            ("attn_v", kv_heads * DIM / HEADS, DIM),
            ("attn_output", DIM, DIM),
            ("ffn_gate", HIDDEN, DIM),
            ("ffn_up", HIDDEN, DIM),
            ("ffn_down", DIM, HIDDEN),
        ];
        for (i, (name, rows, cols)) in shapes.into_iter().enumerate() {
            tensors.push((format!("blk.{layer}.{name}.weight"), weights(seed + i as u64, rows, cols)?));
        }
        tensors.push((format!("blk.{layer}.attn_norm.weight"), ones(DIM)?));
        tensors.push((format!("blk.{layer}.ffn_norm.weight"), ones(DIM)?));
    }
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path)?;
    gguf_file::write(&mut file, &metadata, &tensors)
}

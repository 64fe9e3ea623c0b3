//! The tokenizer, built from the GGUF metadata with the `tokenizers` crate. candle's own
//! GGUF tokenizer ignores the "smollm" pre-tokenizer (digits one by one, then byte-level
//! without a prefix space), so SmolLM2 would see different tokens than it was trained on.

use super::LoadError;
use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

/// GGUF token types (llama.cpp's `llama_token_type`): 3 = control, 4 = user-defined.
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

fn metadata<'a>(content: &'a Content, key: &str) -> Result<&'a Value, LoadError> {
    content.metadata.get(key).ok_or_else(|| LoadError::Metadata(format!("{key} is missing")))
}

fn string_list(content: &Content, key: &str) -> Result<Vec<String>, LoadError> {
    let bad = || LoadError::Metadata(format!("{key} is not a list of strings"));
    metadata(content, key)?
        .to_vec()
        .map_err(|_| bad())?
        .iter()
        .map(|v| v.to_string().cloned().map_err(|_| bad()))
        .collect()
}

pub struct BuiltTokenizer {
    pub tokenizer: Tokenizer,
    /// Tokens that end a turn: `<|im_end|>`, `<|endoftext|>` and the declared EOS.
    pub stop_token_ids: Vec<u32>,
}

pub fn from_gguf(content: &Content) -> Result<BuiltTokenizer, LoadError> {
    let kind = metadata(content, "tokenizer.ggml.model")?
        .to_string()
        .map_err(|_| LoadError::Metadata("tokenizer.ggml.model is not a string".into()))?;
    if kind != "gpt2" {
        return Err(LoadError::Unsupported(format!(
            "tokenizer {kind:?}; Parley reads gpt2 (byte-level BPE) tokenizers"
        )));
    }
    let tokens = string_list(content, "tokenizer.ggml.tokens")?;
    let merges = string_list(content, "tokenizer.ggml.merges")?;
    let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(value) => value
            .to_vec()
            .map_err(|_| LoadError::Metadata("tokenizer.ggml.token_type is not a list".into()))?
            .iter()
            .map(|v| v.to_i32().unwrap_or(1))
            .collect(),
        None => vec![1; tokens.len()],
    };
    let vocab: tokenizers::models::bpe::Vocab =
        tokens.iter().enumerate().map(|(id, token)| (token.clone(), id as u32)).collect();
    let merges = merges
        .iter()
        .map(|merge| {
            merge
                .split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| LoadError::Metadata(format!("tokenizer merge {merge:?} is not two tokens")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|err| LoadError::Metadata(format!("tokenizer: {err}")))?;

    let mut tokenizer = Tokenizer::new(bpe);
    let pre = content
        .metadata
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    let byte_level = PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true));
    let pre_tokenizer = match pre.as_str() {
        // SmolLM (and others of this family): every digit on its own, then byte-level.
        "smollm" | "qwen2" | "llama-bpe" | "" => PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            byte_level,
        ])),
        _ => byte_level,
    };
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, kind)| matches!(**kind, TOKEN_TYPE_CONTROL | TOKEN_TYPE_USER_DEFINED))
        .map(|(token, _)| AddedToken::from(token.clone(), true))
        .collect();
    tokenizer
        .add_special_tokens(special)
        .map_err(|err| LoadError::Metadata(format!("special tokens: {err}")))?;

    let mut stop_token_ids: Vec<u32> = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>"]
        .iter()
        .filter_map(|token| tokenizer.token_to_id(token))
        .collect();
    if let Some(eos) = content.metadata.get("tokenizer.ggml.eos_token_id").and_then(|v| v.to_u32().ok())
        && !stop_token_ids.contains(&eos)
    {
        stop_token_ids.push(eos);
    }
    Ok(BuiltTokenizer { tokenizer, stop_token_ids })
}

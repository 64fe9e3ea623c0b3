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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;
    use sha2::{Digest, Sha256};
    use std::io::BufRead;
    use std::path::PathBuf;

    const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    const REFERENCE: &str = include_str!("../../../tests/tests/data/smollm2-tokens-hf.jsonl");

    /// A file of the shared data: `$PARLEY_SHARED_DATA`, else `../shared/data` beside the
    /// checkout.
    fn shared(name: &str) -> PathBuf {
        let folder = std::env::var_os("PARLEY_SHARED_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
        folder.join(name)
    }

    /// Parley's tokenizers crate matches its regular expressions with `fancy-regex`;
    /// Hugging Face's Python build, which recorded the reference
    /// (`scripts/tokens-reference.py`), with Oniguruma. Every text splits into the same ids:
    /// hand-made texts where the engines could part (Unicode classes, runs of spaces,
    /// contractions, digits, many scripts, emoji), the 250 Open-Assistant prompts, and the
    /// 2,312 HH-RLHF conversations (by count and a SHA-256 of their ids).
    #[test]
    fn tokens_equal_hugging_face_s() {
        let mut file = std::fs::File::open(MODEL)
            .unwrap_or_else(|err| panic!("{MODEL}: {err}: run scripts/fetch-model.sh (make test does)"));
        let content = Content::read(&mut file).unwrap();
        let tokenizer = from_gguf(&content).unwrap().tokenizer;
        if let Some(path) = std::env::var_os("PARLEY_WRITE_TOKENIZER") {
            std::fs::write(path, tokenizer.to_string(false).unwrap()).unwrap();
        }
        let encode = |text: &str| tokenizer.encode(text, false).unwrap().get_ids().to_vec();
        let oasst: Vec<String> = std::fs::read_to_string(shared("oasst-prompt-lottery-en-250.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let hh: Vec<String> = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
            std::fs::File::open(shared("hh-rlhf-harmless-base-test.jsonl.gz")).unwrap(),
        ))
        .lines()
        .map(|line| {
            serde_json::from_str::<Json>(&line.unwrap()).unwrap()["chosen"].as_str().unwrap().to_string()
        })
        .collect();
        let ids = |value: &Json| -> Vec<u32> {
            value["ids"].as_array().unwrap().iter().map(|id| id.as_u64().unwrap() as u32).collect()
        };
        let (mut hand_made, mut prompts, mut conversations) = (0, 0, 0);
        for line in REFERENCE.lines().skip(1) {
            let reference: Json = serde_json::from_str(line).unwrap();
            if let Some(text) = reference["text"].as_str() {
                assert_eq!(encode(text), ids(&reference), "{text:?}");
                hand_made += 1;
            } else if let Some(number) = reference["oasst"].as_u64() {
                let text = &oasst[number as usize - 1];
                assert_eq!(encode(text), ids(&reference), "Open-Assistant prompt {number}: {text:?}");
                prompts += 1;
            } else {
                let number = reference["hh"].as_u64().unwrap();
                let ours = encode(&hh[number as usize - 1]);
                let bytes: Vec<u8> = ours.iter().flat_map(|id| id.to_le_bytes()).collect();
                let digest: String = Sha256::digest(&bytes)[..8].iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(
                    (ours.len() as u64, digest.as_str()),
                    (reference["count"].as_u64().unwrap(), reference["sha256"].as_str().unwrap()),
                    "HH-RLHF line {number}"
                );
                conversations += 1;
            }
        }
        assert_eq!((hand_made >= 20, prompts, conversations), (true, 250, 2312));
    }
}

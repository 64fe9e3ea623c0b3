//! Prompts' keys and values, kept for the next request that begins with the same tokens
//! (what vLLM calls automatic prefix caching). Chat requests share the template's system
//! prompt; the next turn of a conversation begins with the whole of the last one; a
//! regenerated suggestion is the same prompt again. Such a request runs only the tokens
//! past what is cached. The logits are the same to the bit as a whole prefill's: each
//! position's arithmetic does not depend on which pass computed the positions before it.

use super::llama::{Cache, Prefix};
use std::collections::HashSet;
use std::sync::Arc;

/// What `serve` keeps unless told otherwise (`--prefix-cache-mb`): for SmolLM2-135M (30
/// layers, 3 key-value heads of 64) a token's keys and values take 45 kB, so about 2,900
/// tokens.
pub const DEFAULT_BUDGET_BYTES: usize = 128 << 20;

/// Prompts kept at most, whatever their size: each lookup compares the prompt with each.
const MAX_ENTRIES: usize = 256;

pub struct Prefixes {
    entries: Vec<Entry>,
    budget: usize,
    clock: u64,
    /// Prompts looked up, their tokens, and those found cached.
    prompts: u64,
    prompt_tokens: u64,
    reused: u64,
}

/// What the cache holds and has saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Prompts kept, and the bytes their caches take.
    pub entries: usize,
    pub bytes: usize,
    /// Prompts looked up, their tokens, and those that were cached (not run again).
    pub prompts: u64,
    pub prompt_tokens: u64,
    pub reused: u64,
}

struct Entry {
    tokens: Vec<u32>,
    prefix: Prefix,
    used: u64,
}

impl Prefixes {
    /// Keeps prefixes whose caches take at most `budget` bytes between them; 0 keeps none.
    pub fn new(budget: usize) -> Prefixes {
        Prefixes { entries: vec![], budget, clock: 0, prompts: 0, prompt_tokens: 0, reused: 0 }
    }

    /// The longest cached start of `tokens`, at most `limit` tokens of it (empty when none).
    pub fn find(&mut self, tokens: &[u32], limit: usize) -> Prefix {
        self.clock += 1;
        self.prompts += 1;
        self.prompt_tokens += tokens.len() as u64;
        let best = self
            .entries
            .iter_mut()
            .map(|entry| {
                let common = entry.tokens.iter().zip(tokens).take_while(|(a, b)| a == b).count();
                (common.min(limit), entry)
            })
            .max_by_key(|(common, _)| *common);
        match best {
            Some((common, entry)) if common > 0 => {
                entry.used = self.clock;
                self.reused += common as u64;
                entry.prefix.truncate(common)
            }
            _ => Prefix::default(),
        }
    }

    /// Keeps `prefix`, the cache of `tokens`, then forgets the least recently used
    /// prefixes until the rest fit the budget and `MAX_ENTRIES` (a prefix larger than the
    /// budget is not kept).
    pub fn insert(&mut self, tokens: Vec<u32>, prefix: Prefix) {
        self.clock += 1;
        if tokens.is_empty() || prefix.len() != tokens.len() {
            return;
        }
        if let Some(entry) = self.entries.iter_mut().find(|entry| entry.tokens == tokens) {
            entry.used = self.clock;
        } else {
            self.entries.push(Entry { tokens, prefix, used: self.clock });
        }
        while !self.entries.is_empty() && (self.entries.len() > MAX_ENTRIES || self.bytes() > self.budget) {
            let oldest = (0..self.entries.len()).min_by_key(|&i| self.entries[i].used).unwrap_or(0);
            self.entries.swap_remove(oldest);
        }
    }

    /// Bytes the kept prefixes' caches take (a cache that several share counted once).
    pub fn bytes(&self) -> usize {
        let mut seen: HashSet<*const Cache> = HashSet::new();
        self.entries
            .iter()
            .flat_map(|entry| entry.prefix.caches())
            .filter(|cache| seen.insert(Arc::as_ptr(cache)))
            .map(|cache| cache.bytes())
            .sum()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            entries: self.entries.len(),
            bytes: self.bytes(),
            prompts: self.prompts,
            prompt_tokens: self.prompt_tokens,
            reused: self.reused,
        }
    }
}

//! Any bytes, as an uploaded dataset file (gzip or not): the importer either refuses them
//! naming lines, or reads rows that keep the limits. It never panics.
#![no_main]

use app::dataset::ImportFormat;
use libfuzzer_sys::fuzz_target;
use parley::datasets::import::{ReadLimits, read};

const LIMITS: ReadLimits = ReadLimits { text_bytes: 4096, turns: 16 };

fuzz_target!(|data: &[u8]| {
    let Ok(bytes) = parley::datasets::read_file(data, 1 << 20) else { return };
    assert!(bytes.len() <= 1 << 20, "read_file keeps its limit");
    for format in ImportFormat::ALL {
        match read(&bytes, format, LIMITS) {
            Ok(parsed) => {
                for dialogue in &parsed.dialogues {
                    assert!(!dialogue.turns.is_empty() && dialogue.turns.len() <= LIMITS.turns);
                    for (i, turn) in dialogue.turns.iter().enumerate() {
                        assert!(turn.text.len() <= LIMITS.text_bytes);
                        assert!(turn.parent.is_none_or(|p| p < i), "parents come first");
                    }
                }
                for prompt in &parsed.prompts {
                    assert!(prompt.len() <= LIMITS.text_bytes);
                }
            }
            Err(refusal) => assert!(refusal.total > 0 && !refusal.problems.is_empty()),
        }
    }
});

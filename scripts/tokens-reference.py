#!/usr/bin/env python3
"""Records how Hugging Face `tokenizers` (Python, whose regular expressions are
Oniguruma's) splits texts with Parley's SmolLM2 tokenizer, for the test
`tokens_equal_hugging_face_s` in tests/tests/smollm2.rs (Parley's build uses the crate's
`fancy-regex` instead, one C library fewer to compile).

    PARLEY_WRITE_TOKENIZER=/tmp/smollm2.json cargo test --release -p parley-tests --test smollm2 tokens_equal
    python3 -m venv /tmp/tok && /tmp/tok/bin/pip install tokenizers==0.23.3
    /tmp/tok/bin/python scripts/tokens-reference.py /tmp/smollm2.json ../shared/data \
        > tests/tests/data/smollm2-tokens-hf.jsonl

Lines: the hand-made texts with their ids; the 250 Open-Assistant prompts with their ids;
each HH-RLHF `chosen` text's token count and the first 16 hex digits of the SHA-256 of
its ids (little-endian u32).
"""
import gzip
import hashlib
import json
import struct
import sys

import tokenizers
from tokenizers import Tokenizer

# Where regular expressions of different engines could part: Unicode classes, runs and
# mixes of spaces, contractions, digits, scripts, emoji, combining marks, control text.
HAND_MADE = [
    "Hello, wörld! It's 2024; we'll see what they've done.",
    "I'M SURE YOU'RE RIGHT, DON'T YOU'D THINK?",
    "  leading and trailing spaces   ",
    "tabs\tand\t\tnew\nlines\n\n\nand\r\nwindows\r\n",
    "\n\n\n",
    "    ",
    "a\u00a0non-breaking\u2009thin\u3000ideographic space",
    "3.14159 + 2,718 = 5.85959; 1e10, 0x1F, ١٢٣ and ๑๒๓",
    "日本語のテキストと漢字、ひらがな。",
    "中文文本，标点符号！",
    "한국어 텍스트입니다.",
    "Русский текст с цифрами 123.",
    "النص العربي مع الأرقام ٤٥٦",
    "עברית: שלום עולם",
    "हिन्दी पाठ और संख्याएँ १२३",
    "emoji 😀🎉👩‍👩‍👧‍👦 and flags 🇫🇷🇯🇵 and skin 👍🏽",
    "e\u0301 combining, \u1e9b\u0323 and ﬁ ligature, Ａ full width",
    "zero\u200bwidth\u200djoiners\ufeffand bom",
    "code: fn main() { println!(\"{}\", x?); } // done",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|> in the middle <|im_end|>",
    "___---***===+++!!!???...",
    "url https://example.org/a?b=c&d=e#f and mail ada@example.org",
    "'s 't 're 've 'm 'll 'd 'S 'T",
    "\u0000nul and \u0007bell and \u001bescape",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 and 𐍈 gothic",
]


def main():
    tokenizer = Tokenizer.from_file(sys.argv[1])
    data = sys.argv[2]
    out = sys.stdout
    print(json.dumps({"tokenizers": tokenizers.__version__}), file=out)
    for text in HAND_MADE:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        print(json.dumps({"text": text, "ids": ids}, ensure_ascii=False), file=out)
    with open(f"{data}/oasst-prompt-lottery-en-250.jsonl", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            ids = tokenizer.encode(json.loads(line), add_special_tokens=False).ids
            print(json.dumps({"oasst": number, "ids": ids}), file=out)
    with gzip.open(f"{data}/hh-rlhf-harmless-base-test.jsonl.gz", "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            ids = tokenizer.encode(json.loads(line)["chosen"], add_special_tokens=False).ids
            digest = hashlib.sha256(struct.pack(f"<{len(ids)}I", *ids)).hexdigest()[:16]
            print(json.dumps({"hh": number, "count": len(ids), "sha256": digest}), file=out)


if __name__ == "__main__":
    main()

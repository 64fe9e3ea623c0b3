//! Turns tokens into text as they come, so that every piece sent is valid UTF-8 (a token can
//! end in the middle of a character), and holds back text that may become a stop string.

use tokenizers::Tokenizer;

pub struct TextStream<'a> {
    tokenizer: &'a Tokenizer,
    tokens: Vec<u32>,
    /// Tokens before this index are fully decoded into `decoded`.
    settled: usize,
    decoded: String,
    /// Bytes of `decoded` already handed out.
    sent: usize,
    stop: std::sync::Arc<[String]>,
}

pub enum Step {
    /// Text to send now (may be empty).
    Text(String),
    /// A stop string appeared: the text before it, and the stream is over.
    Stopped(String),
}

impl<'a> TextStream<'a> {
    pub fn new(tokenizer: &'a Tokenizer, stop: &[String]) -> Self {
        TextStream {
            tokenizer,
            tokens: vec![],
            settled: 0,
            decoded: String::new(),
            sent: 0,
            stop: stop.into(),
        }
    }

    fn decode(&self, tokens: &[u32]) -> Result<String, String> {
        self.tokenizer.decode(tokens, true).map_err(|err| format!("decode: {err}"))
    }

    pub fn push(&mut self, token: u32) -> Result<Step, String> {
        self.tokens.push(token);
        let pending = self.decode(&self.tokens[self.settled..])?;
        // An incomplete character decodes to U+FFFD: wait for the token that completes it.
        if pending.ends_with('\u{FFFD}') {
            return Ok(Step::Text(String::new()));
        }
        self.decoded.push_str(&pending);
        self.settled = self.tokens.len();
        Ok(self.release())
    }

    /// What may be sent now: everything but a tail that could still grow into a stop string.
    fn release(&mut self) -> Step {
        let unsent = &self.decoded[self.sent..];
        // Search from a little before the unsent text, so a stop string that straddles
        // two pieces is still found.
        let longest = self.stop.iter().map(String::len).max().unwrap_or(0);
        let mut from = self.sent.saturating_sub(longest);
        while !self.decoded.is_char_boundary(from) {
            from -= 1;
        }
        if let Some(at) =
            self.stop.iter().filter_map(|s| self.decoded[from..].find(s.as_str()).map(|i| from + i)).min()
        {
            let text = self.decoded[self.sent..at.max(self.sent)].to_string();
            self.sent = self.decoded.len();
            return Step::Stopped(text);
        }
        let hold = self
            .stop
            .iter()
            .flat_map(|stop| (1..stop.len()).filter(|&k| stop.is_char_boundary(k)).map(move |k| &stop[..k]))
            .filter(|prefix| unsent.ends_with(prefix))
            .map(|prefix| prefix.len())
            .max()
            .unwrap_or(0);
        let until = self.decoded.len() - hold;
        let text = self.decoded[self.sent..until].to_string();
        self.sent = until;
        Step::Text(text)
    }

    /// The rest, when the text ends for another reason than a stop string.
    pub fn finish(&mut self) -> String {
        let text = self.decoded[self.sent..].to_string();
        self.sent = self.decoded.len();
        text
    }

    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;

    /// A byte-level tokenizer with no merges: one token per byte, so a multi-byte
    /// character spans several tokens.
    fn bytes_tokenizer() -> Tokenizer {
        let vocab: tokenizers::models::bpe::Vocab =
            ByteLevel::alphabet().into_iter().enumerate().map(|(i, c)| (c.to_string(), i as u32)).collect();
        let bpe = BPE::builder().vocab_and_merges(vocab, vec![]).build().unwrap();
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        tokenizer.with_decoder(Some(tokenizers::decoders::byte_level::ByteLevel::default()));
        tokenizer
    }

    fn feed(stream: &mut TextStream<'_>, ids: &[u32]) -> (Vec<String>, bool) {
        let mut pieces = vec![];
        for &id in ids {
            match stream.push(id).unwrap() {
                Step::Text(text) => pieces.push(text),
                Step::Stopped(text) => {
                    pieces.push(text);
                    return (pieces, true);
                }
            }
        }
        pieces.push(stream.finish());
        (pieces, false)
    }

    #[test]
    fn split_characters_are_sent_whole() {
        let tokenizer = bytes_tokenizer();
        let ids = tokenizer.encode("añ😀b", false).unwrap().get_ids().to_vec();
        assert_eq!(ids.len(), 1 + 2 + 4 + 1);
        let mut stream = TextStream::new(&tokenizer, &[]);
        let (pieces, stopped) = feed(&mut stream, &ids);
        assert!(!stopped);
        assert_eq!(pieces.concat(), "añ😀b");
        assert!(pieces.iter().any(|p| p == "😀"), "{pieces:?}");
    }

    #[test]
    fn text_before_a_stop_string_is_sent_and_the_rest_never() {
        let tokenizer = bytes_tokenizer();
        let stop = vec!["END".to_string()];
        let ids = tokenizer.encode("hello ENDING", false).unwrap().get_ids().to_vec();
        let mut stream = TextStream::new(&tokenizer, &stop);
        let (pieces, stopped) = feed(&mut stream, &ids);
        assert!(stopped);
        assert_eq!(pieces.concat(), "hello ");
        // "E" and "EN" were held back until they turned out to be the stop string.
        assert!(!pieces.iter().any(|p| p.contains('E')));
    }

    #[test]
    fn a_held_back_prefix_is_released_when_it_is_not_a_stop() {
        let tokenizer = bytes_tokenizer();
        let stop = vec!["END".to_string()];
        let ids = tokenizer.encode("an ENvoy", false).unwrap().get_ids().to_vec();
        let mut stream = TextStream::new(&tokenizer, &stop);
        let (pieces, stopped) = feed(&mut stream, &ids);
        assert!(!stopped);
        assert_eq!(pieces.concat(), "an ENvoy");
    }
}

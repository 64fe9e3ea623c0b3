//! The content filter: a policy of categories, each with word lists and patterns and an
//! action (warn or block), checked against normalised text. Matching is linear in the text:
//! words through one Aho–Corasick automaton, patterns through the `regex` crate (finite
//! automata, no backtracking), so a megabyte of text cannot stall it.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The policy Parley starts with; admins replace it.
pub const DEFAULT_POLICY: &str = include_str!("../../policy/default.policy");
/// Largest compiled pattern: refuses patterns whose automaton would be huge.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

pub use crate::filter::Action;

/// Why a policy was refused: the line (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PolicyError {
    pub line: usize,
    pub message: String,
}

/// One category of a policy, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    pub action: Action,
    pub words: Vec<String>,
    pub patterns: Vec<String>,
}

/// A rule that matched: its category, the action, and the text it matched (normalised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub category: String,
    pub action: Action,
    pub matched: String,
}

/// What the filter says of one text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Decision {
    pub hits: Vec<Hit>,
}

impl Decision {
    /// Block if any hit blocks, else warn if any hit, else none.
    pub fn action(&self) -> Option<Action> {
        if self.hits.iter().any(|h| h.action == Action::Block) {
            Some(Action::Block)
        } else if self.hits.is_empty() {
            None
        } else {
            Some(Action::Warn)
        }
    }

    /// The categories hit, each once, in policy order.
    pub fn categories(&self) -> Vec<&str> {
        let mut names: Vec<&str> = vec![];
        for hit in &self.hits {
            if !names.contains(&hit.category.as_str()) {
                names.push(&hit.category);
            }
        }
        names
    }
}

/// A parsed and compiled policy.
pub struct Policy {
    pub categories: Vec<Category>,
    words: Option<AhoCorasick>,
    /// For each word in the automaton: its category (index).
    word_category: Vec<usize>,
    patterns: Vec<(usize, Regex)>,
}

/// Text as the rules see it: NFKC (full-width letters, ligatures), lower case, accents
/// removed, runs of whitespace as one space.
pub fn normalise(text: &str) -> String {
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
    let unaccented = folded.nfkd().filter(|c| !is_combining_mark(*c)).nfc();
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in unaccented {
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

fn is_word_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

impl Policy {
    /// Parses a policy file; any bad line refuses the whole file, naming the line.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut categories: Vec<Category> = vec![];
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let error = |message: String| PolicyError { line, message };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix("category ") {
                let (name, action) = rest
                    .trim()
                    .rsplit_once(' ')
                    .ok_or_else(|| error("a category line is `category NAME warn|block`".into()))?;
                let action = match action {
                    "warn" => Action::Warn,
                    "block" => Action::Block,
                    other => return Err(error(format!("unknown action {other:?}; use warn or block"))),
                };
                let name = name.trim().to_string();
                if categories.iter().any(|c| c.name == name) {
                    return Err(error(format!("category {name:?} is defined twice")));
                }
                categories.push(Category { name, action, words: vec![], patterns: vec![] });
                continue;
            }
            let Some(category) = categories.last_mut() else {
                return Err(error("rules must follow a `category NAME warn|block` line".into()));
            };
            if let Some(list) = trimmed.strip_prefix("words:") {
                for word in list.split(',').map(normalise).filter(|w| !w.is_empty()) {
                    category.words.push(word);
                }
            } else if let Some(pattern) = trimmed.strip_prefix("pattern:") {
                let pattern = pattern.trim();
                compile(pattern).map_err(|err| error(format!("bad pattern: {err}")))?;
                category.patterns.push(pattern.to_string());
            } else {
                return Err(error("expected `category`, `words:` or `pattern:`".into()));
            }
        }
        if categories.is_empty() {
            return Err(PolicyError { line: 0, message: "the policy has no category".into() });
        }
        Policy::compile(categories).map_err(|message| PolicyError { line: 0, message })
    }

    fn compile(categories: Vec<Category>) -> Result<Policy, String> {
        let mut words = vec![];
        let mut word_category = vec![];
        let mut patterns = vec![];
        for (i, category) in categories.iter().enumerate() {
            for word in &category.words {
                words.push(word.clone());
                word_category.push(i);
            }
            for pattern in &category.patterns {
                patterns.push((i, compile(pattern).map_err(|err| err.to_string())?));
            }
        }
        let words = if words.is_empty() {
            None
        } else {
            Some(
                // Standard semantics: the overlapping search reports every word found.
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&words)
                    .map_err(|err| err.to_string())?,
            )
        };
        Ok(Policy { categories, words, word_category, patterns })
    }

    /// Every rule the text breaks (at most one hit per rule).
    pub fn check(&self, text: &str) -> Decision {
        let text = normalise(text);
        let mut hits: Vec<(usize, Hit)> = vec![];
        let mut seen_words = std::collections::HashSet::new();
        if let Some(words) = &self.words {
            // Overlapping search, so a word inside a longer non-word match is still found.
            for found in words.find_overlapping_iter(&text) {
                let before = text[..found.start()].chars().next_back();
                let after = text[found.end()..].chars().next();
                if is_word_char(before) || is_word_char(after) || !seen_words.insert(found.pattern()) {
                    continue;
                }
                let category = self.word_category[found.pattern().as_usize()];
                hits.push((category, self.hit(category, &text[found.start()..found.end()])));
            }
        }
        for (category, pattern) in &self.patterns {
            if let Some(found) = pattern.find(&text) {
                hits.push((*category, self.hit(*category, found.as_str())));
            }
        }
        hits.sort_by_key(|(category, _)| *category);
        Decision { hits: hits.into_iter().map(|(_, hit)| hit).collect() }
    }

    fn hit(&self, category: usize, matched: &str) -> Hit {
        let category = &self.categories[category];
        Hit { category: category.name.clone(), action: category.action, matched: matched.to_string() }
    }
}

/// The policy in force on this server, read again from the store whenever an admin saved a
/// newer version (on any server instance), and the external moderation endpoint if one is
/// configured.
pub struct FilterState {
    current: std::sync::RwLock<std::sync::Arc<(i64, Policy)>>,
    external: Option<super::moderation::ExternalModeration>,
}

impl Default for FilterState {
    fn default() -> Self {
        FilterState::new(None)
    }
}

impl FilterState {
    pub fn new(external: Option<super::moderation::ExternalModeration>) -> Self {
        // The built-in default is version 0; it parses (a unit test says so).
        let policy = Policy::parse(DEFAULT_POLICY).unwrap_or_else(|_| Policy::empty());
        FilterState { current: std::sync::RwLock::new(std::sync::Arc::new((0, policy))), external }
    }

    /// The external endpoint, described for the admin page.
    pub fn external(&self) -> Option<String> {
        self.external.as_ref().map(|e| {
            let mode = match e.mode {
                super::moderation::ModerationMode::Beside => "beside the rules",
                super::moderation::ModerationMode::Instead => "instead of the rules",
            };
            format!("{} ({mode}; a flag means {})", e.moderator.describe(), e.action.as_str())
        })
    }

    /// The policy in force and its version.
    pub async fn policy(
        &self,
        store: &dyn super::Store,
    ) -> Result<std::sync::Arc<(i64, Policy)>, super::StoreError> {
        let version = store.latest_policy_version().await?;
        let held = self.current.read().map(|c| c.clone()).unwrap_or_else(|e| e.into_inner().clone());
        if held.0 == version {
            return Ok(held);
        }
        let latest = store.latest_policy().await?;
        let version = latest.as_ref().map_or(0, |p| p.version);
        let text = latest.map_or_else(|| DEFAULT_POLICY.to_string(), |p| p.text);
        let policy = Policy::parse(&text).unwrap_or_else(|err| {
            tracing::error!(%err, version, "a stored policy does not parse; nothing is filtered");
            Policy::empty()
        });
        let fresh = std::sync::Arc::new((version, policy));
        if let Ok(mut current) = self.current.write() {
            *current = fresh.clone();
        }
        Ok(fresh)
    }

    /// The policy a streaming reply is checked against token by token: none when the
    /// external endpoint replaces the rules (it sees the whole reply once it is written).
    pub async fn streaming_policy(
        &self,
        store: &dyn super::Store,
    ) -> Result<Option<std::sync::Arc<(i64, Policy)>>, super::StoreError> {
        if self.external.as_ref().is_some_and(|e| e.mode == super::moderation::ModerationMode::Instead) {
            return Ok(None);
        }
        self.policy(store).await.map(Some)
    }

    /// What the rules (unless replaced) and the external endpoint (if any) say of a text,
    /// and the policy version. An endpoint that fails is logged and let pass, so trainers'
    /// work does not stop with it.
    pub async fn check(
        &self,
        store: &dyn super::Store,
        text: &str,
    ) -> Result<(i64, Decision), super::StoreError> {
        use super::moderation::{ModerationMode, policy_category};
        let policy = self.policy(store).await?;
        let mut decision = match &self.external {
            Some(e) if e.mode == ModerationMode::Instead => Decision::default(),
            _ => policy.1.check(text),
        };
        if let Some(external) = &self.external {
            match external.moderator.moderate(text).await {
                Ok(result) => {
                    let names: Vec<&str> = policy.1.categories.iter().map(|c| c.name.as_str()).collect();
                    for (name, score) in result.flagged_categories() {
                        decision.hits.push(Hit {
                            category: policy_category(&name, &names),
                            action: external.action,
                            matched: format!("{name} {score:.2} (moderation endpoint)"),
                        });
                    }
                }
                Err(err) => {
                    tracing::warn!(endpoint = external.moderator.describe(), %err, "moderation endpoint failed; the text passes it")
                }
            }
        }
        Ok((policy.0, decision))
    }

    /// What the filter decides about a text, ready to store with it.
    pub async fn decide(
        &self,
        store: &dyn super::Store,
        text: &str,
    ) -> Result<super::FilterDecision, super::StoreError> {
        let (policy_version, decision) = self.check(store, text).await?;
        let verdict = crate::filter::Verdict {
            policy_version,
            action: decision.action(),
            categories: decision.categories().into_iter().map(str::to_string).collect(),
        };
        Ok(super::FilterDecision { verdict, hits: serde_json::to_string(&decision.hits).unwrap_or_default() })
    }

    /// Checks a stored message's text and records the decision with the policy version.
    pub async fn judge(
        &self,
        store: &dyn super::Store,
        message_id: uuid::Uuid,
        text: &str,
    ) -> Result<crate::filter::Verdict, super::StoreError> {
        let decision = self.decide(store, text).await?;
        store.record_decision(message_id, &decision.verdict, &decision.hits).await?;
        Ok(decision.verdict)
    }

    /// The first text the model would be given to continue after `last` that the filter
    /// blocks: the system prompt, then every turn down to `last`, not only the newest. A
    /// turn with no decision, or one made under an older policy, is judged again now (and
    /// the new decision stored), so a turn edited, imported or judged before the policy
    /// changed cannot slip through.
    pub async fn first_blocked(
        &self,
        store: &dyn super::Store,
        conversation: &crate::conversation::Conversation,
        last: Option<uuid::Uuid>,
    ) -> Result<Option<Blocked>, super::StoreError> {
        use crate::filter::Action;
        let version = self.policy(store).await?.0;
        if let Some(system) = conversation.system_prompt.as_deref().filter(|s| !s.trim().is_empty()) {
            let decision = self.decide(store, system).await?;
            if decision.verdict.action == Some(Action::Block) {
                return Ok(Some(Blocked { turn: None, categories: decision.verdict.categories }));
            }
        }
        let turns = last.map(|l| conversation.ancestry(l)).unwrap_or_default();
        for (place, turn) in turns.iter().enumerate() {
            let verdict = match &turn.filter {
                Some(verdict) if verdict.policy_version == version => verdict.clone(),
                _ => self.judge(store, turn.id, &turn.text).await?,
            };
            if verdict.action == Some(Action::Block) {
                return Ok(Some(Blocked {
                    turn: Some((place + 1, turn.id)),
                    categories: verdict.categories,
                }));
            }
        }
        Ok(None)
    }
}

/// A text the filter blocks in what would go to the model.
#[derive(Debug, Clone)]
pub struct Blocked {
    /// The turn (its place from 1, and id); `None` for the system prompt.
    pub turn: Option<(usize, uuid::Uuid)>,
    pub categories: Vec<String>,
}

impl Blocked {
    /// What the caller is told: which text, which categories, and what to do.
    pub fn message(&self) -> String {
        let categories = self.categories.join(", ");
        match self.turn {
            Some((place, _)) => format!(
                "the content filter blocks turn {place} ({categories}); nothing is sent to the model. \
                 Edit that turn as a new branch, or write a new turn in its place"
            ),
            None => format!(
                "the content filter blocks the system prompt ({categories}); nothing is sent to the model"
            ),
        }
    }
}

impl Policy {
    /// A policy with no rule: what a server falls back to if a stored one stops parsing.
    fn empty() -> Policy {
        Policy { categories: vec![], words: None, word_category: vec![], patterns: vec![] }
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).size_limit(PATTERN_SIZE_LIMIT).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::parse(
            "# test\ncategory violence warn\nwords: kill, stab him\npattern: \\bbuild a bomb\\b\n\
             category self-harm block\nwords: suicide\n",
        )
        .unwrap()
    }

    #[test]
    fn normalisation_folds_width_case_accents_and_spaces() {
        assert_eq!(normalise("ＫＩＬＬ"), "kill");
        assert_eq!(normalise("Suïcide"), "suicide");
        assert_eq!(normalise("stab \t\n  HIM"), "stab him");
        assert_eq!(normalise("ﬁne"), "fine", "ligatures split");
    }

    #[test]
    fn words_match_whole_words_only() {
        let policy = policy();
        assert_eq!(policy.check("I will KILL the process").categories(), ["violence"]);
        assert!(policy.check("skills and killer whales").hits.is_empty(), "inside other words");
        assert_eq!(policy.check("then stab   him.").hits[0].matched, "stab him");
        assert!(policy.check("stab himself").hits.is_empty());
        assert_eq!(policy.check("Ｋｉｌｌ").action(), Some(Action::Warn), "full-width letters");
        assert_eq!(policy.check("how to build a bomb").hits[0].matched, "build a bomb");
    }

    #[test]
    fn block_wins_over_warn() {
        let decision = policy().check("kill ... suicide");
        assert_eq!(decision.action(), Some(Action::Block));
        assert_eq!(decision.categories(), ["violence", "self-harm"]);
        assert_eq!(policy().check("a kind word").action(), None);
    }

    #[test]
    fn a_bad_policy_is_refused_whole_with_its_line() {
        let err = Policy::parse("category a warn\nwords: x\npattern: (unclosed\n").err().unwrap();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("bad pattern"), "{err}");
        assert_eq!(Policy::parse("words: x").err().unwrap().line, 1);
        assert_eq!(Policy::parse("category a sometimes").err().unwrap().line, 1);
        assert_eq!(Policy::parse("category a warn\ncategory a block").err().unwrap().line, 2);
        assert_eq!(Policy::parse("category a warn\nbanana").err().unwrap().line, 2);
        assert!(Policy::parse("# nothing").is_err());
        let huge = format!("category a warn\npattern: {}", "(a|b|c|d){1000}".repeat(20));
        assert_eq!(Policy::parse(&huge).err().unwrap().line, 2, "a pattern too big to run fast is refused");
    }

    #[test]
    fn the_default_policy_parses() {
        let policy = Policy::parse(DEFAULT_POLICY).unwrap();
        let names: Vec<&str> = policy.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["violence", "self-harm", "sexual", "hate", "harassment", "illegal activity"]);
        assert_eq!(policy.check("I want to kill myself").action(), Some(Action::Block));
    }

    #[test]
    fn a_megabyte_of_text_is_checked_in_one_pass() {
        // A text built to make backtracking matchers blow up: long runs that almost match.
        let text = "kil ".repeat(250_000) + "stab him";
        let decision = Policy::parse(DEFAULT_POLICY).unwrap().check(&text);
        assert_eq!(decision.categories(), ["violence"]);
    }
}

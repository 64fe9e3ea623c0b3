//! An external moderation endpoint in the shape of OpenAI's `POST /v1/moderations`, used
//! beside the policy's rules or instead of them. The adapter that calls it over HTTP lives in
//! `server/`; Parley also answers this shape itself (its rules), so one Parley can moderate
//! for another.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /v1/moderations` body: one text or several, and optionally the moderation model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModerationRequest {
    pub input: ModerationInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModerationInput {
    One(String),
    Many(Vec<String>),
}

impl ModerationInput {
    pub fn texts(&self) -> Vec<&str> {
        match self {
            ModerationInput::One(text) => vec![text.as_str()],
            ModerationInput::Many(texts) => texts.iter().map(String::as_str).collect(),
        }
    }
}

/// The answer: one result per input text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModerationResponse {
    pub id: String,
    pub model: String,
    pub results: Vec<ModerationResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModerationResult {
    pub flagged: bool,
    /// Category name (e.g. `self-harm/intent`) to whether the text falls under it.
    #[serde(default)]
    pub categories: BTreeMap<String, bool>,
    #[serde(default)]
    pub category_scores: BTreeMap<String, f64>,
}

impl ModerationResult {
    /// The categories flagged, with their scores (0 when the endpoint gave none).
    pub fn flagged_categories(&self) -> Vec<(String, f64)> {
        self.categories
            .iter()
            .filter(|(_, flagged)| **flagged)
            .map(|(name, _)| (name.clone(), self.category_scores.get(name).copied().unwrap_or(0.0)))
            .collect()
    }
}

/// Whether the endpoint's flags are added to the rules' or replace them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModerationMode {
    #[default]
    Beside,
    Instead,
}

impl std::str::FromStr for ModerationMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "beside" => Ok(ModerationMode::Beside),
            "instead" => Ok(ModerationMode::Instead),
            other => Err(format!("{other:?} is not a moderation mode; use beside or instead")),
        }
    }
}

/// The port: moderates one text.
#[async_trait::async_trait]
pub trait Moderator: Send + Sync {
    /// The endpoint's result for the text, or why it could not be had.
    async fn moderate(&self, text: &str) -> Result<ModerationResult, String>;
    /// Where it is, for logs and the admin page.
    fn describe(&self) -> String;
}

/// An endpoint configured with how its flags count.
#[derive(Clone)]
pub struct ExternalModeration {
    pub moderator: std::sync::Arc<dyn Moderator>,
    pub mode: ModerationMode,
    /// What a flag from the endpoint does: OpenAI's flag means "violates the usage policy".
    pub action: crate::filter::Action,
}

/// The policy category an endpoint's category counts as: the part before `/`
/// (`self-harm/intent` is `self-harm`), with OpenAI's `illicit` as `illegal activity`; a
/// category the policy lacks keeps its own name.
pub fn policy_category(external: &str, policy_categories: &[&str]) -> String {
    let head = external.split('/').next().unwrap_or(external);
    let head = if head == "illicit" { "illegal activity" } else { head };
    if policy_categories.contains(&head) { head.to_string() } else { external.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response as OpenAI documents it (`omni-moderation-latest`), trimmed to the fields
    /// Parley reads plus one it ignores.
    const OPENAI_EXAMPLE: &str = r#"{
      "id": "modr-0d9740456c391e43c445bf0f010940c7",
      "model": "omni-moderation-latest",
      "results": [{
        "flagged": true,
        "categories": {"harassment": true, "harassment/threatening": true, "sexual": false,
                       "hate": false, "illicit": false, "self-harm/intent": false, "violence": true},
        "category_scores": {"harassment": 0.8189, "harassment/threatening": 0.8046, "sexual": 2.8e-6,
                            "hate": 0.0001, "illicit": 0.0001, "self-harm/intent": 0.0000022, "violence": 0.9223},
        "category_applied_input_types": {"harassment": ["text"], "violence": ["text", "image"]}
      }]
    }"#;

    #[test]
    fn reads_openais_documented_response() {
        let response: ModerationResponse = serde_json::from_str(OPENAI_EXAMPLE).unwrap();
        let flagged = response.results[0].flagged_categories();
        let names: Vec<&str> = flagged.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["harassment", "harassment/threatening", "violence"]);
        assert_eq!(flagged[2].1, 0.9223);
    }

    #[test]
    fn endpoint_categories_map_onto_the_policys() {
        let policy = ["violence", "self-harm", "illegal activity"];
        assert_eq!(policy_category("self-harm/intent", &policy), "self-harm");
        assert_eq!(policy_category("illicit/violent", &policy), "illegal activity");
        assert_eq!(policy_category("violence", &policy), "violence");
        assert_eq!(
            policy_category("sexual/minors", &policy),
            "sexual/minors",
            "kept when the policy lacks it"
        );
    }

    #[test]
    fn input_is_one_text_or_many() {
        let one: ModerationRequest = serde_json::from_str(r#"{"input": "hi"}"#).unwrap();
        assert_eq!(one.input.texts(), ["hi"]);
        let many: ModerationRequest = serde_json::from_str(r#"{"input": ["a", "b"], "model": "m"}"#).unwrap();
        assert_eq!((many.input.texts(), many.model.as_deref()), (vec!["a", "b"], Some("m")));
    }
}

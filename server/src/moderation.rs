//! The external moderation endpoint over HTTP: `POST {url}/moderations` in OpenAI's shape
//! (OpenAI itself, or any service that speaks it, another Parley included).

use app::ssr::moderation::{
    ModerationInput, ModerationRequest, ModerationResponse, ModerationResult, Moderator,
};
use std::time::Duration;

pub struct HttpModerator {
    client: reqwest::Client,
    url: String,
    api_key: Option<String>,
    model: Option<String>,
}

impl HttpModerator {
    /// `base_url` ends before `/moderations` (`https://api.openai.com/v1`).
    pub fn new(base_url: &str, api_key: Option<String>, model: Option<String>) -> HttpModerator {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap_or_default();
        let url = format!("{}/moderations", base_url.trim_end_matches('/'));
        HttpModerator { client, url, api_key, model }
    }
}

#[async_trait::async_trait]
impl Moderator for HttpModerator {
    async fn moderate(&self, text: &str) -> Result<ModerationResult, String> {
        let body =
            ModerationRequest { input: ModerationInput::One(text.to_string()), model: self.model.clone() };
        let mut request = self.client.post(&self.url).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let reply = request.send().await.map_err(|e| e.to_string())?;
        let status = reply.status();
        if !status.is_success() {
            let detail = reply.text().await.unwrap_or_default();
            return Err(format!("{status}: {}", detail.chars().take(300).collect::<String>()));
        }
        let response: ModerationResponse =
            reply.json().await.map_err(|e| format!("not a moderation response: {e}"))?;
        response.results.into_iter().next().ok_or_else(|| "the response holds no result".to_string())
    }

    fn describe(&self) -> String {
        match &self.model {
            Some(model) => format!("{} with {model}", self.url),
            None => self.url.clone(),
        }
    }
}

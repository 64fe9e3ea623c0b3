//! Writing training sets. Every format reads the database as a stream of rows, ordered so
//! one conversation (or ranking) is complete before the next begins, and writes each line
//! as it is made: memory stays flat however large the export.
//!
//! One file per family of formats: `trees` (SFT and Open-Assistant trees), `rankings` (the
//! preference pairs and K-wise), `feedback` (KTO and filter feedback).

mod feedback;
mod rankings;
mod trees;

use super::sink::Sink;
use crate::store::SqlStore;
use app::dataset::{ExportFormat, ExportOptions, Part};
use app::model::ChatMessage;
use app::ssr::{Store, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
}

fn db(err: sqlx::Error) -> ExportError {
    ExportError::Store(StoreError::Backend(err.to_string()))
}

/// What every format needs: the options, model names, and the split and pseudonyms.
pub struct Exporter<'a> {
    store: &'a SqlStore,
    options: ExportOptions,
    model_names: HashMap<String, String>,
    /// The accounts standing for imports' sources, and their names (`import:<source>`).
    source_accounts: HashMap<String, String>,
}

fn seeded_hash(seed: u64, what: &str, id: &str) -> [u8; 32] {
    Sha256::digest(format!("{seed}:{what}:{id}").as_bytes()).into()
}

impl<'a> Exporter<'a> {
    pub async fn new(store: &'a SqlStore, options: ExportOptions) -> Result<Exporter<'a>, ExportError> {
        let names: Vec<(String, String)> = sqlx::query_as("select id, name from model_versions")
            .fetch_all(store.pool())
            .await
            .map_err(db)?;
        let sources: Vec<(String, String)> =
            sqlx::query_as("select id, email from users where source is not null")
                .fetch_all(store.pool())
                .await
                .map_err(db)?;
        Ok(Exporter {
            store,
            options,
            model_names: names.into_iter().collect(),
            source_accounts: sources.into_iter().collect(),
        })
    }

    /// The side of the split a conversation's rows go to: the same for every row of it.
    pub fn part(&self, conversation_id: &str) -> Part {
        match self.options.split_seed {
            None => Part::All,
            Some(seed) => {
                let hash = seeded_hash(seed, "split", conversation_id);
                let at =
                    u64::from_be_bytes(hash[..8].try_into().unwrap_or_default()) as f64 / u64::MAX as f64;
                if at < self.options.test_ratio { Part::Test } else { Part::Train }
            }
        }
    }

    /// A trainer's id, or its pseudonym (stable for one seed) when asked for.
    /// An imported ranking's source is named as it is (`import:hh-rlhf`): it is no person.
    pub fn trainer(&self, user_id: &str) -> String {
        if let Some(source) = self.source_accounts.get(user_id) {
            return source.clone();
        }
        match self.options.pseudonym_seed {
            None => user_id.to_string(),
            Some(seed) => {
                let hash = seeded_hash(seed, "trainer", user_id);
                format!("trainer-{}", hash[..6].iter().map(|b| format!("{b:02x}")).collect::<String>())
            }
        }
    }

    fn model_name(&self, version: Option<&str>) -> Value {
        version.and_then(|v| self.model_names.get(v)).map_or(Value::Null, |n| Value::String(n.clone()))
    }

    fn from(&self) -> String {
        self.options.from.clone().unwrap_or_default()
    }

    fn to(&self) -> String {
        self.options.to.as_ref().map(|day| format!("{day}T23:59:59.999999Z")).unwrap_or_default()
    }

    fn trainer_filter(&self) -> String {
        self.options.trainer.map(|t| t.to_string()).unwrap_or_default()
    }

    fn model_filter(&self) -> String {
        self.options.model_version.map(|m| m.to_string()).unwrap_or_default()
    }

    fn source_filter(&self) -> String {
        self.options.source.clone().unwrap_or_default()
    }

    pub async fn write(&self, format: ExportFormat, sink: &mut dyn Sink) -> Result<(), ExportError> {
        match format {
            ExportFormat::Sft => self.trees(sink, true).await,
            ExportFormat::OasstTrees => self.trees(sink, false).await,
            ExportFormat::PreferenceTrl
            | ExportFormat::PreferenceOpenai
            | ExportFormat::PreferenceHh
            | ExportFormat::Kwise => self.rankings(format, sink).await,
            ExportFormat::Kto => self.thumbs(sink).await,
            ExportFormat::FilterFeedback => self.filter_feedback(sink).await,
        }
    }

    async fn put(&self, sink: &mut dyn Sink, conversation_id: &str, row: &Value) -> Result<(), ExportError> {
        let mut line = serde_json::to_vec(row).map_err(std::io::Error::other)?;
        line.push(b'\n');
        sink.row(self.part(conversation_id), &line).await?;
        Ok(())
    }
}

/// Stored sampling parameters (JSON text) as a value; none for a person's text.
fn sampling(stored: Option<&str>) -> Value {
    stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null)
}

/// Contexts rebuilt from the stored conversation (for comparisons made before contexts were
/// kept, and for thumbs on chat replies), one conversation held at a time.
#[derive(Default)]
struct ContextCache {
    held: Option<app::conversation::Conversation>,
}

impl ContextCache {
    async fn hold(&mut self, store: &SqlStore, conversation_id: &str) -> Result<(), ExportError> {
        let id = Uuid::parse_str(conversation_id).map_err(|e| StoreError::Backend(e.to_string()))?;
        if self.held.as_ref().is_none_or(|c| c.id != id) {
            self.held = Store::conversation(store, id).await?;
        }
        Ok(())
    }

    /// The messages a completion of `message_id` continues, system prompt first.
    async fn of(
        &mut self,
        store: &SqlStore,
        conversation_id: &str,
        message_id: &str,
    ) -> Result<Vec<ChatMessage>, ExportError> {
        self.hold(store, conversation_id).await?;
        let Some(conversation) = &self.held else { return Ok(vec![]) };
        let parent = Uuid::parse_str(message_id).ok().and_then(|m| conversation.compared_after(m));
        Ok(conversation.chat_messages(parent))
    }

    /// The system prompt and the turns down to `parent` (none: the system prompt alone).
    async fn after(
        &mut self,
        store: &SqlStore,
        conversation_id: &str,
        parent: Option<&str>,
    ) -> Result<Vec<ChatMessage>, ExportError> {
        self.hold(store, conversation_id).await?;
        let Some(conversation) = &self.held else { return Ok(vec![]) };
        Ok(conversation.chat_messages(parent.and_then(|p| Uuid::parse_str(p).ok())))
    }
}

//! Writing training sets. Every format reads the database as a stream of rows, ordered so
//! one conversation (or ranking) is complete before the next begins, and writes each line
//! as it is made: memory stays flat however large the export.

use super::sink::Sink;
use crate::store::SqlStore;
use app::conversation::Role;
use app::dataset::{ExportFormat, ExportOptions, Part};
use app::model::ChatMessage;
use app::ranking::{Ranking, pairs, tie_pairs};
use app::ssr::{Store, StoreError};
use futures::TryStreamExt;
use serde_json::{Value, json};
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
        Ok(Exporter { store, options, model_names: names.into_iter().collect() })
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
    pub fn trainer(&self, user_id: &str) -> String {
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

/// One stored message, as the tree formats read it.
#[derive(sqlx::FromRow)]
struct TreeRow {
    conversation_id: String,
    kind: String,
    owner_id: String,
    system_prompt: Option<String>,
    source: Option<String>,
    status: String,
    id: String,
    parent_id: Option<String>,
    role: String,
    text: String,
    author_user_id: Option<String>,
    author_model_version_id: Option<String>,
    /// A model-written turn's parameters and seed (JSON).
    sampling: Option<String>,
    /// A demonstration turn started from a model suggestion: that model, and how far the
    /// text moved from it.
    suggestion_model_version_id: Option<String>,
    edit_distance: Option<i64>,
    edit_ratio: Option<f64>,
    created_at: String,
    thumbs_up: i64,
    thumbs_down: i64,
}

const TREE_ROWS: &str = "select c.id as conversation_id, c.kind, c.owner_id, c.system_prompt, c.source, c.status, \
     m.id, m.parent_id, m.position, m.role, m.text, m.author_user_id, m.author_model_version_id, m.sampling, \
     m.suggestion_model_version_id, m.edit_distance, m.edit_ratio, m.created_at, \
     (select count(*) from feedback f where f.target_kind = 'message' and f.target_id = m.id and f.thumbs = 1) as thumbs_up, \
     (select count(*) from feedback f where f.target_kind = 'message' and f.target_id = m.id and f.thumbs = -1) as thumbs_down \
     from conversations c join messages m on m.conversation_id = c.id \
     where ($1 = '' or c.kind = 'demonstration') \
     and ((c.kind = 'chat') or ($2 = 'accepted' and c.status = 'accepted') or ($2 <> 'accepted' and c.status in ('submitted', 'accepted'))) \
     and ($3 = '' or c.updated_at >= $3) and ($4 = '' or c.updated_at <= $4) and ($5 = '' or c.owner_id = $5) \
     and ($6 = '' or ($6 = 'parley' and c.source is null) or c.source = $6) \
     order by c.id, m.position";

/// A completion of a comparison drawn from a conversation, for the tree formats.
#[derive(sqlx::FromRow)]
struct CompletionRow {
    comparison_id: String,
    message_id: String,
    id: String,
    text: String,
    model_version_id: Option<String>,
    sampling: Option<String>,
    original: Option<String>,
    created_at: String,
    thumbs_up: i64,
    thumbs_down: i64,
}

const TREE_COMPLETIONS: &str = "select c.id as comparison_id, c.message_id, k.id, k.text, k.model_version_id, k.sampling, \
     k.message_id as original, k.created_at, \
     (select count(*) from feedback f where f.target_kind = 'completion' and f.target_id = k.id and f.thumbs = 1) as thumbs_up, \
     (select count(*) from feedback f where f.target_kind = 'completion' and f.target_id = k.id and f.thumbs = -1) as thumbs_down \
     from comparisons c join completions k on k.comparison_id = c.id \
     where c.conversation_id = $1 and c.status = 'ready' order by c.created_at, c.id, k.position";

const TREE_RANKINGS: &str = "select r.comparison_id, r.ranking from rankings r join comparisons c on c.id = r.comparison_id \
     where c.conversation_id = $1 and r.ranking is not null \
     and r.revision = (select max(o.revision) from rankings o where o.comparison_id = r.comparison_id and o.ranked_by = r.ranked_by)";

impl Exporter<'_> {
    /// Ranks from consensus for the tree formats: for each model reply that a ranked
    /// comparison was drawn from (the most ranked one, when several were), the reply's place
    /// and its sampled alternatives, added to `rows` as its sibling replies. Places count from
    /// 0 (best); tied completions share one. Returns the rank of each node that has one.
    async fn ranked_replies(&self, rows: &mut Vec<TreeRow>) -> Result<HashMap<String, i64>, ExportError> {
        let conversation = rows[0].conversation_id.clone();
        let completions: Vec<CompletionRow> = sqlx::query_as(TREE_COMPLETIONS)
            .bind(&conversation)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        let mut ranks = HashMap::new();
        if completions.is_empty() {
            return Ok(ranks);
        }
        let rankings: Vec<(String, String)> = sqlx::query_as(TREE_RANKINGS)
            .bind(&conversation)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        let mut by_comparison: HashMap<&str, Vec<app::quality::Places>> = HashMap::new();
        for (comparison, ranking) in &rankings {
            if let Ok(ranking) = serde_json::from_str::<Ranking>(ranking) {
                by_comparison
                    .entry(comparison.as_str())
                    .or_default()
                    .push(app::quality::places(&ranking.groups));
            }
        }
        // Per drawn message, its most ranked comparison (the earliest among equals).
        let mut chosen: HashMap<&str, (&str, usize)> = HashMap::new();
        for c in &completions {
            let count = by_comparison.get(c.comparison_id.as_str()).map_or(0, Vec::len);
            let entry = chosen.entry(c.message_id.as_str()).or_insert((c.comparison_id.as_str(), count));
            if count > entry.1 {
                *entry = (c.comparison_id.as_str(), count);
            }
        }
        let mut added = vec![];
        for (message, (comparison, count)) in chosen {
            if count == 0 {
                continue;
            }
            // Replies to a drawn prompt are its children; alternatives to a drawn reply, its
            // siblings.
            let Some(parent) = rows.iter().find(|r| r.id == message).map(|r| {
                if r.role == Role::User.as_str() { Some(r.id.clone()) } else { r.parent_id.clone() }
            }) else {
                continue;
            };
            let members: Vec<&CompletionRow> =
                completions.iter().filter(|c| c.comparison_id == comparison).collect();
            let items: Vec<Uuid> = members.iter().filter_map(|c| Uuid::parse_str(&c.id).ok()).collect();
            let consensus = app::quality::consensus(&items, &by_comparison[comparison]);
            for (place, group) in consensus.iter().enumerate() {
                for id in group {
                    let Some(c) = members.iter().find(|c| c.id == id.to_string()) else { continue };
                    match &c.original {
                        Some(original) => {
                            ranks.insert(original.clone(), place as i64);
                        }
                        None => {
                            ranks.insert(c.id.clone(), place as i64);
                            let first = &rows[0];
                            added.push(TreeRow {
                                conversation_id: first.conversation_id.clone(),
                                kind: first.kind.clone(),
                                owner_id: first.owner_id.clone(),
                                system_prompt: first.system_prompt.clone(),
                                source: first.source.clone(),
                                status: first.status.clone(),
                                id: c.id.clone(),
                                parent_id: parent.clone(),
                                role: Role::Assistant.as_str().to_string(),
                                text: c.text.clone(),
                                author_user_id: None,
                                author_model_version_id: c.model_version_id.clone(),
                                sampling: c.sampling.clone(),
                                suggestion_model_version_id: None,
                                edit_distance: None,
                                edit_ratio: None,
                                created_at: c.created_at.clone(),
                                thumbs_up: c.thumbs_up,
                                thumbs_down: c.thumbs_down,
                            });
                        }
                    }
                }
            }
        }
        rows.extend(added);
        Ok(ranks)
    }

    /// SFT (each demonstration's first branch as `messages`) or Open-Assistant trees (every
    /// conversation, one tree per first turn).
    async fn trees(&self, sink: &mut dyn Sink, sft: bool) -> Result<(), ExportError> {
        let mut rows = sqlx::query_as::<_, TreeRow>(TREE_ROWS)
            .bind(if sft { "sft" } else { "" })
            .bind(self.options.status.clone().unwrap_or_default())
            .bind(self.from())
            .bind(self.to())
            .bind(self.trainer_filter())
            .bind(self.source_filter())
            .fetch(self.store.pool());
        let mut group: Vec<TreeRow> = vec![];
        while let Some(row) = rows.try_next().await.map_err(db)? {
            if group.first().is_some_and(|g| g.conversation_id != row.conversation_id) {
                self.tree(sink, std::mem::take(&mut group), sft).await?;
            }
            group.push(row);
        }
        if !group.is_empty() {
            self.tree(sink, group, sft).await?;
        }
        Ok(())
    }

    async fn tree(&self, sink: &mut dyn Sink, mut rows: Vec<TreeRow>, sft: bool) -> Result<(), ExportError> {
        let ranks = if sft { HashMap::new() } else { self.ranked_replies(&mut rows).await? };
        // Rows come by sibling position; children of each message in that order (a ranked
        // reply's sampled alternatives after them).
        let mut children: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            children.entry(row.parent_id.as_deref()).or_default().push(i);
        }
        let first = &rows[0];
        if sft {
            let mut messages = vec![];
            let mut provenance = vec![];
            if let Some(system) = first.system_prompt.as_ref().filter(|s| !s.is_empty()) {
                messages.push(json!({ "role": "system", "content": system }));
                provenance.push(self.provenance(None));
            }
            let mut at: Option<&str> = None;
            while let Some(&next) = children.get(&at).and_then(|c| c.first()) {
                let row = &rows[next];
                messages.push(json!({ "role": row.role, "content": row.text }));
                provenance.push(self.provenance(Some(row)));
                at = Some(row.id.as_str());
            }
            let row = json!({
                "messages": messages,
                "provenance": provenance,
                "conversation_id": first.conversation_id,
                "trainer": self.trainer(&first.owner_id),
                "source": first.source.clone().unwrap_or_else(|| "parley".into()),
                "status": first.status,
            });
            return self.put(sink, &first.conversation_id, &row).await;
        }
        let roots = children.get(&None).cloned().unwrap_or_default();
        for root in roots {
            let row = json!({
                "message_tree_id": rows[root].id,
                "tree_state": "ready_for_export",
                "prompt": self.node(&rows, &children, &ranks, root),
                "conversation_id": first.conversation_id,
                "kind": first.kind,
                "system_prompt": first.system_prompt,
                "source": first.source.clone().unwrap_or_else(|| "parley".into()),
            });
            self.put(sink, &first.conversation_id, &row).await?;
        }
        Ok(())
    }

    fn node(
        &self,
        rows: &[TreeRow],
        children: &HashMap<Option<&str>, Vec<usize>>,
        ranks: &HashMap<String, i64>,
        at: usize,
    ) -> Value {
        let row = &rows[at];
        let replies: Vec<Value> = children
            .get(&Some(row.id.as_str()))
            .map(|c| c.iter().map(|&i| self.node(rows, children, ranks, i)).collect())
            .unwrap_or_default();
        let synthetic = row.author_model_version_id.is_some();
        json!({
            "message_id": row.id,
            "parent_id": row.parent_id,
            "user_id": row.author_user_id.as_deref().map(|u| self.trainer(u)),
            "created_date": row.created_at,
            "text": row.text,
            "role": if row.role == Role::User.as_str() { "prompter" } else { "assistant" },
            "lang": Value::Null,
            "review_count": 0,
            "review_result": Value::Null,
            "deleted": false,
            "rank": ranks.get(&row.id),
            "synthetic": synthetic,
            "model_name": self.model_name(row.author_model_version_id.as_deref()),
            "sampling": sampling(row.sampling.as_deref()),
            "from_suggestion": self.suggestion_taken(row),
            "emojis": { "+1": row.thumbs_up, "-1": row.thumbs_down },
            "replies": replies,
            "labels": {},
        })
    }
}

/// Stored sampling parameters (JSON text) as a value; none for a person's text.
fn sampling(stored: Option<&str>) -> Value {
    stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null)
}

impl Exporter<'_> {
    /// The suggestion a demonstration turn started from: its model and the edit made.
    fn suggestion_taken(&self, row: &TreeRow) -> Value {
        match &row.suggestion_model_version_id {
            Some(model) => json!({
                "model_name": self.model_name(Some(model)),
                "edit_distance": row.edit_distance,
                "edit_ratio": row.edit_ratio,
            }),
            None => Value::Null,
        }
    }

    /// Who wrote one SFT message and how: `system`, a trainer (with the suggestion they
    /// started from, if any), or a model (with its parameters and seed).
    fn provenance(&self, row: Option<&TreeRow>) -> Value {
        let Some(row) = row else {
            return json!({ "author": "system", "model_name": null, "sampling": null, "from_suggestion": null });
        };
        json!({
            "author": if row.author_model_version_id.is_some() { "model" } else { "trainer" },
            "model_name": self.model_name(row.author_model_version_id.as_deref()),
            "sampling": sampling(row.sampling.as_deref()),
            "from_suggestion": self.suggestion_taken(row),
        })
    }
}

/// One completion of one ranking, as the preference formats read it.
#[derive(sqlx::FromRow)]
struct RankedRow {
    ranking_id: String,
    ranked_by: String,
    ranking: String,
    conversation_id: String,
    message_id: String,
    context: Option<String>,
    comparison_id: String,
    completion_id: String,
    text: String,
    model_version_id: Option<String>,
    sampling: Option<String>,
}

// By the unique (comparison, trainer, revision) index and the completions' (comparison,
// position) one, so the database need not sort: each ranking's rows come together.
const RANKED_ROWS: &str = "select r.id as ranking_id, r.ranked_by, r.ranking, c.conversation_id, c.message_id, c.context, \
     c.id as comparison_id, k.id as completion_id, k.text, k.model_version_id, k.sampling \
     from rankings r join comparisons c on c.id = r.comparison_id join completions k on k.comparison_id = c.id \
     join conversations v on v.id = c.conversation_id \
     where r.ranking is not null \
     and r.revision = (select max(o.revision) from rankings o where o.comparison_id = r.comparison_id and o.ranked_by = r.ranked_by) \
     and ($1 = '' or r.created_at >= $1) and ($2 = '' or r.created_at <= $2) and ($3 = '' or r.ranked_by = $3) \
     and ($4 = '' or exists (select 1 from completions m where m.comparison_id = c.id and m.model_version_id = $4)) \
     and ($5 = '' or ($5 = 'parley' and v.source is null) or v.source = $5) \
     order by r.comparison_id, r.ranked_by, r.revision, k.position";

/// `"\n\nHuman: …\n\nAssistant: …"`, as HH-RLHF writes a conversation (a system prompt has
/// no place there and is left out).
fn hh_text(context: &[ChatMessage], reply: &str) -> String {
    let mut text = String::new();
    for message in context {
        match message.role.as_str() {
            "user" => text.push_str("\n\nHuman: "),
            "assistant" => text.push_str("\n\nAssistant: "),
            _ => continue,
        }
        text.push_str(&message.content);
    }
    text.push_str("\n\nAssistant: ");
    text.push_str(reply);
    text
}

impl Exporter<'_> {
    async fn rankings(&self, format: ExportFormat, sink: &mut dyn Sink) -> Result<(), ExportError> {
        let mut rows = sqlx::query_as::<_, RankedRow>(RANKED_ROWS)
            .bind(self.from())
            .bind(self.to())
            .bind(self.trainer_filter())
            .bind(self.model_filter())
            .bind(self.source_filter())
            .fetch(self.store.pool());
        let mut group: Vec<RankedRow> = vec![];
        let mut contexts = ContextCache::default();
        // K-wise rows carry the consensus of every ranking of their comparison: the rankings
        // of one comparison (rows come by comparison) are held until it is complete.
        let mut comparison: Vec<Vec<RankedRow>> = vec![];
        loop {
            let row = rows.try_next().await.map_err(db)?;
            let ended = match &row {
                Some(row) => group.first().is_some_and(|g| g.ranking_id != row.ranking_id),
                None => !group.is_empty(),
            };
            if ended {
                let done = std::mem::take(&mut group);
                if format == ExportFormat::Kwise {
                    if comparison.first().is_some_and(|c| c[0].comparison_id != done[0].comparison_id) {
                        self.kwise(sink, std::mem::take(&mut comparison), &mut contexts).await?;
                    }
                    comparison.push(done);
                } else {
                    self.ranking(format, sink, done, &mut contexts, None).await?;
                }
            }
            match row {
                Some(row) => group.push(row),
                None => break,
            }
        }
        if !comparison.is_empty() {
            self.kwise(sink, comparison, &mut contexts).await?;
        }
        Ok(())
    }

    /// The K-wise rows of one comparison, each with the consensus (ranked pairs, Borda as
    /// the tie-break) of all its rankings exported, as groups of completion indices.
    async fn kwise(
        &self,
        sink: &mut dyn Sink,
        rankings: Vec<Vec<RankedRow>>,
        contexts: &mut ContextCache,
    ) -> Result<(), ExportError> {
        let items: Vec<Uuid> =
            rankings[0].iter().filter_map(|c| Uuid::parse_str(&c.completion_id).ok()).collect();
        let places: Vec<app::quality::Places> = rankings
            .iter()
            .filter_map(|r| serde_json::from_str::<Ranking>(&r[0].ranking).ok())
            .map(|r| app::quality::places(&r.groups))
            .collect();
        let consensus: Vec<Vec<usize>> = app::quality::consensus(&items, &places)
            .iter()
            .map(|g| g.iter().filter_map(|id| items.iter().position(|i| i == id)).collect())
            .collect();
        let rankers = rankings.len();
        for ranking in rankings {
            self.ranking(ExportFormat::Kwise, sink, ranking, contexts, Some((&consensus, rankers))).await?;
        }
        Ok(())
    }

    async fn ranking(
        &self,
        format: ExportFormat,
        sink: &mut dyn Sink,
        completions: Vec<RankedRow>,
        contexts: &mut ContextCache,
        consensus: Option<(&Vec<Vec<usize>>, usize)>,
    ) -> Result<(), ExportError> {
        let first = &completions[0];
        let ranking: Ranking = serde_json::from_str(&first.ranking)
            .map_err(|e| StoreError::Backend(format!("ranking {}: {e}", first.ranking_id)))?;
        let context = match &first.context {
            Some(stored) => serde_json::from_str(stored)
                .map_err(|e| StoreError::Backend(format!("comparison {}: {e}", first.comparison_id)))?,
            None => contexts.of(self.store, &first.conversation_id, &first.message_id).await?,
        };
        let by_id: HashMap<Uuid, &RankedRow> =
            completions.iter().filter_map(|c| Some((Uuid::parse_str(&c.completion_id).ok()?, c))).collect();
        let ranking_id = Uuid::parse_str(&first.ranking_id).unwrap_or_default();
        let reply = |text: &str| json!([{ "role": "assistant", "content": text }]);
        if format == ExportFormat::Kwise {
            let index: HashMap<Uuid, usize> = completions
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((Uuid::parse_str(&c.completion_id).ok()?, i)))
                .collect();
            let groups: Vec<Vec<usize>> = ranking
                .groups
                .iter()
                .map(|g| g.iter().filter_map(|id| index.get(id).copied()).collect())
                .collect();
            let row = json!({
                "prompt": context,
                "completions": completions.iter().map(|c| json!({ "role": "assistant", "content": c.text })).collect::<Vec<_>>(),
                "ranking": groups.concat(),
                "groups": groups,
                "consensus": consensus.map(|(c, _)| c),
                "rankers": consensus.map_or(1, |(_, n)| n),
                "models": completions.iter().map(|c| self.model_name(c.model_version_id.as_deref())).collect::<Vec<_>>(),
                "sampling": completions.iter().map(|c| sampling(c.sampling.as_deref())).collect::<Vec<_>>(),
                "comparison_id": first.comparison_id,
                "ranking_id": first.ranking_id,
                "trainer": self.trainer(&first.ranked_by),
            });
            return self.put(sink, &first.conversation_id, &row).await;
        }
        let mut expanded = pairs(ranking_id, &ranking);
        if self.options.ties {
            expanded.extend(tie_pairs(ranking_id, &ranking));
        }
        // Pairs repeat the context and each completion several times: each piece is written
        // as JSON once, and lines are put together from the pieces.
        let text = |value: &Value| value.to_string();
        let pieces: HashMap<Uuid, (String, String)> = by_id
            .iter()
            .map(|(id, c)| {
                let piece = match format {
                    ExportFormat::PreferenceHh => text(&Value::String(hh_text(&context, &c.text))),
                    _ => text(&reply(&c.text)),
                };
                (*id, (piece, text(&self.model_name(c.model_version_id.as_deref()))))
            })
            .collect();
        let prompt = text(&json!(context));
        let tail = format!(
            r#""comparison_id":{},"ranking_id":{},"trainer":{}"#,
            text(&json!(first.comparison_id)),
            text(&json!(first.ranking_id)),
            text(&json!(self.trainer(&first.ranked_by)))
        );
        let part = self.part(&first.conversation_id);
        let mut line = String::new();
        for pair in expanded {
            let (Some((chosen, chosen_model)), Some((rejected, rejected_model))) =
                (pieces.get(&pair.chosen), pieces.get(&pair.rejected))
            else {
                continue;
            };
            line.clear();
            match format {
                ExportFormat::PreferenceOpenai => {
                    line.push_str(&format!(
                        r#"{{"input":{{"messages":{prompt}}},"preferred_output":{chosen},"non_preferred_output":{rejected}}}"#
                    ));
                }
                ExportFormat::PreferenceHh => line.push_str(&format!(r#"{{"chosen":{chosen},"rejected":{rejected}}}"#)),
                _ => line.push_str(&format!(
                    r#"{{"prompt":{prompt},"chosen":{chosen},"rejected":{rejected},"margin":{}.0,"chosen_model":{chosen_model},"rejected_model":{rejected_model},{tail}}}"#,
                    pair.margin
                )),
            }
            line.push('\n');
            sink.row(part, line.as_bytes()).await?;
        }
        Ok(())
    }
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

#[derive(sqlx::FromRow)]
struct ThumbRow {
    user_id: String,
    thumbs: i64,
    target_kind: String,
    conversation_id: Option<String>,
    message_id: Option<String>,
    /// A suggestion's: the turn it would answer (none: the first turn).
    parent_id: Option<String>,
    text: Option<String>,
    model_version_id: Option<String>,
    context: Option<String>,
}

// Thumbs on chat replies, on comparison completions, and on assistant-side suggestions shown
// while writing (a user-side suggestion is no assistant completion, so it is left out).
const THUMB_ROWS: &str = "select f.user_id, f.thumbs, f.target_kind, \
     coalesce(m.conversation_id, c.conversation_id, s.conversation_id) as conversation_id, \
     coalesce(m.id, c.message_id) as message_id, s.parent_id, coalesce(m.text, k.text, s.text) as text, \
     coalesce(m.author_model_version_id, k.model_version_id, s.model_version_id) as model_version_id, c.context \
     from feedback f left join messages m on f.target_kind = 'message' and m.id = f.target_id \
     left join completions k on f.target_kind = 'completion' and k.id = f.target_id \
     left join comparisons c on c.id = k.comparison_id \
     left join suggestions s on f.target_kind = 'suggestion' and s.role = 'assistant' \
        and s.id || ':' || cast(s.idx as text) = f.target_id \
     where f.thumbs is not null and f.target_kind in ('message', 'completion', 'suggestion') \
     and ($1 = '' or f.updated_at >= $1) and ($2 = '' or f.updated_at <= $2) and ($3 = '' or f.user_id = $3) \
     and ($4 = '' or coalesce(m.author_model_version_id, k.model_version_id, s.model_version_id) = $4) \
     order by coalesce(m.conversation_id, c.conversation_id, s.conversation_id), f.updated_at";

impl Exporter<'_> {
    /// Thumbs on chat replies, comparison completions and assistant-side suggestions as KTO
    /// rows: the turns the text followed as `prompt`, the text as `completion`.
    async fn thumbs(&self, sink: &mut dyn Sink) -> Result<(), ExportError> {
        let mut rows = sqlx::query_as::<_, ThumbRow>(THUMB_ROWS)
            .bind(self.from())
            .bind(self.to())
            .bind(self.trainer_filter())
            .bind(self.model_filter())
            .fetch(self.store.pool());
        let mut contexts = ContextCache::default();
        while let Some(row) = rows.try_next().await.map_err(db)? {
            let (Some(conversation_id), Some(text)) = (row.conversation_id, row.text) else {
                continue;
            };
            let prompt: Vec<ChatMessage> = match (&row.context, row.target_kind.as_str(), &row.message_id) {
                (Some(stored), _, _) => {
                    serde_json::from_str(stored).map_err(|e| StoreError::Backend(e.to_string()))?
                }
                (None, "suggestion", _) => {
                    contexts.after(self.store, &conversation_id, row.parent_id.as_deref()).await?
                }
                (None, _, Some(message_id)) => contexts.of(self.store, &conversation_id, message_id).await?,
                (None, _, None) => continue,
            };
            let line = json!({
                "prompt": prompt,
                "completion": [{ "role": "assistant", "content": text }],
                "label": row.thumbs > 0,
                "model": self.model_name(row.model_version_id.as_deref()),
                "trainer": self.trainer(&row.user_id),
            });
            self.put(sink, &conversation_id, &line).await?;
        }
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct FilterFeedbackRow {
    message_id: String,
    user_id: String,
    kind: String,
    category: String,
    note: String,
    created_at: String,
    conversation_id: String,
    role: String,
    text: String,
    model_version_id: Option<String>,
    action: Option<String>,
    categories: Option<String>,
    policy_version: Option<i64>,
}

const FILTER_FEEDBACK_ROWS: &str = "select ff.message_id, ff.user_id, ff.kind, ff.category, ff.note, ff.created_at, \
     m.conversation_id, m.role, m.text, m.author_model_version_id as model_version_id, d.action, d.categories, d.policy_version \
     from filter_feedback ff join messages m on m.id = ff.message_id \
     left join filter_decisions d on d.id = (select o.id from filter_decisions o where o.message_id = ff.message_id \
        order by o.created_at desc, o.id limit 1) \
     where ($1 = '' or ff.created_at >= $1) and ($2 = '' or ff.created_at <= $2) and ($3 = '' or ff.user_id = $3) \
     order by m.conversation_id, ff.created_at";

impl Exporter<'_> {
    /// What people said of the filter: each text with the filter's latest decision on it.
    async fn filter_feedback(&self, sink: &mut dyn Sink) -> Result<(), ExportError> {
        let mut rows = sqlx::query_as::<_, FilterFeedbackRow>(FILTER_FEEDBACK_ROWS)
            .bind(self.from())
            .bind(self.to())
            .bind(self.trainer_filter())
            .fetch(self.store.pool());
        while let Some(row) = rows.try_next().await.map_err(db)? {
            let flagged: Vec<String> =
                row.categories.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
            let line = json!({
                "text": row.text,
                "role": row.role,
                "model": self.model_name(row.model_version_id.as_deref()),
                "feedback": row.kind,
                "category": row.category,
                "note": row.note,
                "filter_action": row.action.unwrap_or_else(|| "pass".into()),
                "filter_categories": flagged,
                "policy_version": row.policy_version.unwrap_or(0),
                "message_id": row.message_id,
                "conversation_id": row.conversation_id,
                "trainer": self.trainer(&row.user_id),
                "created_at": row.created_at,
            });
            self.put(sink, &row.conversation_id, &line).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hh_text_is_the_context_then_the_reply() {
        let context = vec![
            ChatMessage::new("system", "be nice"),
            ChatMessage::new("user", "Hi"),
            ChatMessage::new("assistant", "Yo"),
            ChatMessage::new("user", "Joke?"),
        ];
        assert_eq!(
            hh_text(&context, "No"),
            "\n\nHuman: Hi\n\nAssistant: Yo\n\nHuman: Joke?\n\nAssistant: No"
        );
    }
}

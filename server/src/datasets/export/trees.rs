//! SFT (each demonstration's first branch as `messages`, with who wrote each turn) and
//! Open-Assistant trees (every conversation, ranks from consensus).

use super::{ExportError, Exporter, db, sampling};
use crate::datasets::sink::Sink;
use app::conversation::Role;
use app::ranking::Ranking;
use futures::TryStreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// One stored message, as the tree formats read it.
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
    /// The reviewer whose edit the text is, when one edited it before accepting.
    edited_by_reviewer_id: Option<String>,
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
crate::store::from_columns!(TreeRow {
    conversation_id,
    kind,
    owner_id,
    system_prompt,
    source,
    status,
    id,
    parent_id,
    role,
    text,
    author_user_id,
    author_model_version_id,
    edited_by_reviewer_id,
    sampling,
    suggestion_model_version_id,
    edit_distance,
    edit_ratio,
    created_at,
    thumbs_up,
    thumbs_down
});

const TREE_ROWS: &str = "select c.id as conversation_id, c.kind, c.owner_id, c.system_prompt, c.source, c.status, \
     m.id, m.parent_id, m.position, m.role, m.text, m.author_user_id, m.author_model_version_id, m.edited_by_reviewer_id, m.sampling, \
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
crate::store::from_columns!(CompletionRow {
    comparison_id,
    message_id,
    id,
    text,
    model_version_id,
    sampling,
    original,
    created_at,
    thumbs_up,
    thumbs_down
});

const TREE_COMPLETIONS: &str = "select c.id as comparison_id, c.message_id, k.id, k.text, k.model_version_id, k.sampling, \
     k.message_id as original, k.created_at, \
     (select count(*) from feedback f where f.target_kind = 'completion' and f.target_id = k.id and f.thumbs = 1) as thumbs_up, \
     (select count(*) from feedback f where f.target_kind = 'completion' and f.target_id = k.id and f.thumbs = -1) as thumbs_down \
     from comparisons c join completions k on k.comparison_id = c.id \
     where c.conversation_id = $1 and c.status = 'ready' order by c.created_at, c.id, k.position";

const TREE_RANKINGS: &str = "select r.comparison_id, r.ranking from rankings r join comparisons c on c.id = r.comparison_id \
     where c.conversation_id = $1 and r.ranking is not null and r.set_aside_at is null \
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
                                edited_by_reviewer_id: None,
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
    pub(super) async fn trees(&self, sink: &mut dyn Sink, sft: bool) -> Result<(), ExportError> {
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
    /// started from, if any), a model (with its parameters and seed), or a reviewer who
    /// edited the text before accepting (`reviewer`, pseudonymous as trainers are; `edited`
    /// names who wrote what they edited).
    fn provenance(&self, row: Option<&TreeRow>) -> Value {
        let Some(row) = row else {
            return json!({ "author": "system", "model_name": null, "sampling": null, "from_suggestion": null });
        };
        let written_by = if row.author_model_version_id.is_some() { "model" } else { "trainer" };
        if let Some(reviewer) = &row.edited_by_reviewer_id {
            return json!({
                "author": "reviewer",
                "reviewer": self.trainer(reviewer),
                "edited": written_by,
                "model_name": self.model_name(row.author_model_version_id.as_deref()),
                "sampling": null,
                "from_suggestion": self.suggestion_taken(row),
            });
        }
        json!({
            "author": written_by,
            "model_name": self.model_name(row.author_model_version_id.as_deref()),
            "sampling": sampling(row.sampling.as_deref()),
            "from_suggestion": self.suggestion_taken(row),
        })
    }
}

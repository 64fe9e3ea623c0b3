//! Rankings as preference pairs (TRL, OpenAI, HH-RLHF) and whole (K-wise, with the
//! consensus of every ranking of a comparison).

use super::{ContextCache, ExportError, Exporter, db, sampling};
use crate::datasets::sink::Sink;
use app::dataset::ExportFormat;
use app::model::ChatMessage;
use app::ranking::{Ranking, pairs, tie_pairs};
use app::ssr::StoreError;
use futures::TryStreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// One completion of one ranking, as the preference formats read it.
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
crate::store::from_columns!(RankedRow {
    ranking_id,
    ranked_by,
    ranking,
    conversation_id,
    message_id,
    context,
    comparison_id,
    completion_id,
    text,
    model_version_id,
    sampling
});

// By the unique (comparison, trainer, revision) index and the completions' (comparison,
// position) one, so the database need not sort: each ranking's rows come together.
const RANKED_ROWS: &str = "select r.id as ranking_id, r.ranked_by, r.ranking, c.conversation_id, c.message_id, c.context, \
     c.id as comparison_id, k.id as completion_id, k.text, k.model_version_id, k.sampling \
     from rankings r join comparisons c on c.id = r.comparison_id join completions k on k.comparison_id = c.id \
     join conversations v on v.id = c.conversation_id \
     where r.ranking is not null and r.set_aside_at is null \
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
    pub(super) async fn rankings(
        &self,
        format: ExportFormat,
        sink: &mut dyn Sink,
    ) -> Result<(), ExportError> {
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

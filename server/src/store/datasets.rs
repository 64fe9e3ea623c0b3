//! Imports: conversations and prompts from a file, all in one transaction, each text once.

use super::{SqlStore, backend};
use crate::datasets::import::{Parsed, prompt_hash};
use app::dataset::{ImportFormat, ImportSummary};
use app::ssr::StoreError;
use app::ssr::clock::now_rfc3339;
use std::collections::HashMap;
use uuid::Uuid;

/// An import about to be stored: its id (made by the client), where it came from, who runs it.
pub struct NewImport {
    pub id: Uuid,
    pub source: String,
    pub file_name: String,
    pub by: Uuid,
}

type ImportRow = (String, String, String, String, i64, i64, i64, String, i64, i64);

/// A select of the columns an `ImportRow` reads, followed by the given clauses.
macro_rules! select_imports {
    ($rest:literal) => {
        concat!(
            "select id, source, format, file_name, conversations, prompts, duplicates, created_at, comparisons, \
             rankings from imports ",
            $rest
        )
    };
}

fn summary(row: ImportRow, rows: usize) -> Result<ImportSummary, StoreError> {
    let (
        id,
        source,
        format,
        file_name,
        conversations,
        prompts,
        duplicates,
        created_at,
        comparisons,
        rankings,
    ) = row;
    Ok(ImportSummary {
        id: super::uuid(&id)?,
        source,
        format: format.parse::<ImportFormat>().map_err(StoreError::Backend)?,
        file_name,
        rows,
        conversations: conversations as usize,
        prompts: prompts as usize,
        duplicates: duplicates as usize,
        comparisons: comparisons as usize,
        rankings: rankings as usize,
        created_at,
    })
}

impl SqlStore {
    /// The import of this id, if it was stored.
    pub async fn import(&self, id: Uuid) -> Result<Option<ImportSummary>, StoreError> {
        let row: Option<ImportRow> = sqlx::query_as(select_imports!("where id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(|r| {
            let rows = (r.4 + r.5 + r.6) as usize;
            summary(r, rows)
        })
        .transpose()
    }

    /// The imports, newest first.
    pub async fn list_imports(&self) -> Result<Vec<ImportSummary>, StoreError> {
        let rows: Vec<ImportRow> = sqlx::query_as(select_imports!("order by created_at desc limit 100"))
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(|r| {
                let rows = (r.4 + r.5 + r.6) as usize;
                summary(r, rows)
            })
            .collect()
    }

    /// Stores what a file held as submitted demonstrations (owned by the one importing) and
    /// prompts, skipping any text already stored; all or nothing. A retried import (same
    /// id) stores nothing more and answers what the first stored. A conversation read with
    /// rankings also becomes a comparison of its ranked replies, ranked as the file says by
    /// an account standing for the source (see `source_account`), in one batch per import:
    /// done, outside the rank queue.
    pub async fn store_import(&self, new: &NewImport, parsed: &Parsed) -> Result<ImportSummary, StoreError> {
        if let Some(done) = self.import(new.id).await? {
            return Ok(done);
        }
        let format = parsed.format.unwrap_or(ImportFormat::Auto);
        let now = now_rfc3339();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "insert into imports (id, source, format, file_name, conversations, prompts, duplicates, created_by, created_at) \
             values ($1, $2, $3, $4, 0, 0, 0, $5, $6)",
        )
        .bind(new.id.to_string())
        .bind(&new.source)
        .bind(format.as_str())
        .bind(&new.file_name)
        .bind(new.by.to_string())
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let (mut conversations, mut prompts, mut duplicates) = (0usize, 0usize, 0usize);
        let (mut comparisons, mut rankings) = (0usize, 0usize);
        let mut batch: Option<String> = None;
        let mut accounts: HashMap<Option<String>, String> = HashMap::new();
        for dialogue in &parsed.dialogues {
            let id = Uuid::new_v4();
            let inserted = sqlx::query(
                "insert into conversations (id, kind, owner_id, system_prompt, status, sampling, revision, \
                 created_at, updated_at, source, import_id, content_hash) \
                 values ($1, 'demonstration', $2, $3, 'submitted', null, 0, $4, $4, $5, $6, $7) \
                 on conflict (content_hash) do nothing",
            )
            .bind(id.to_string())
            .bind(new.by.to_string())
            .bind(&dialogue.system)
            .bind(&now)
            .bind(&new.source)
            .bind(new.id.to_string())
            .bind(dialogue.content_hash())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 0 {
                duplicates += 1;
                continue;
            }
            conversations += 1;
            let ids: Vec<Uuid> = dialogue.turns.iter().map(|_| Uuid::new_v4()).collect();
            for (i, turn) in dialogue.turns.iter().enumerate() {
                let position = dialogue.turns[..i].iter().filter(|t| t.parent == turn.parent).count();
                sqlx::query(
                    "insert into messages (id, conversation_id, parent_id, position, role, text, author_user_id, \
                     created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(ids[i].to_string())
                .bind(id.to_string())
                .bind(turn.parent.map(|p| ids[p].to_string()))
                .bind(position as i64)
                .bind(turn.role.as_str())
                .bind(&turn.text)
                .bind(new.by.to_string())
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
            if dialogue.rankings.is_empty() {
                continue;
            }
            let batch = match &batch {
                Some(batch) => batch.clone(),
                None => {
                    let id = Uuid::new_v4().to_string();
                    let (k, overlap) = parsed.dialogues.iter().fold((0, 0), |(k, o), d| {
                        let replies = d.rankings.first().map_or(0, |r| r.groups.iter().flatten().count());
                        (replies.max(k), d.rankings.len().max(o))
                    });
                    sqlx::query(
                        "insert into comparison_batches (id, created_by, seed, k, overlap, include_original, allow_own, \
                         sampling, created_at, draw, import_id) values ($1, $2, '0', $3, $4, 1, 1, $5, $6, 'import', $7)",
                    )
                    .bind(&id)
                    .bind(new.by.to_string())
                    .bind(k as i64)
                    .bind(overlap as i64)
                    .bind(super::to_json(&app::model::SamplingParams::default())?)
                    .bind(&now)
                    .bind(new.id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                    batch.insert(id).clone()
                }
            };
            let ranked =
                RankedConversation { id, turns: &ids, dialogue, position: comparisons, batch: &batch };
            if let Some(stored) = store_comparison(&mut *tx, new, &now, ranked, &mut accounts).await? {
                comparisons += 1;
                rankings += stored;
            }
        }
        for prompt in &parsed.prompts {
            let inserted = sqlx::query(
                "insert into prompts (id, text, source, import_id, content_hash, created_at) \
                 values ($1, $2, $3, $4, $5, $6) on conflict (content_hash) do nothing",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(prompt)
            .bind(&new.source)
            .bind(new.id.to_string())
            .bind(prompt_hash(prompt))
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 0 {
                duplicates += 1;
            } else {
                prompts += 1;
            }
        }
        sqlx::query(
            "update imports set conversations = $2, prompts = $3, duplicates = $4, comparisons = $5, rankings = $6 \
             where id = $1",
        )
        .bind(new.id.to_string())
        .bind(conversations as i64)
        .bind(prompts as i64)
        .bind(duplicates as i64)
        .bind(comparisons as i64)
        .bind(rankings as i64)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(ImportSummary {
            id: new.id,
            source: new.source.clone(),
            format,
            file_name: new.file_name.clone(),
            rows: parsed.rows,
            conversations,
            prompts,
            duplicates,
            comparisons,
            rankings,
            created_at: now,
        })
    }

    /// A prompt drawn at random from the imported ones, for a chat to start from.
    pub async fn draw_prompt(&self) -> Result<Option<(Uuid, String)>, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as("select count(*) from prompts").fetch_one(self.pool()).await.map_err(backend)?;
        if count == 0 {
            return Ok(None);
        }
        let offset = rand::Rng::gen_range(&mut rand::thread_rng(), 0..count);
        let row: Option<(String, String)> =
            sqlx::query_as("select id, text from prompts order by id limit 1 offset $1")
                .bind(offset)
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        row.map(|(id, text)| Ok((super::uuid(&id)?, text))).transpose()
    }
}

/// A ranked conversation just stored, as its comparison needs it: its id, the ids its turns
/// were stored under, and the comparison's place in the import's batch.
struct RankedConversation<'a> {
    id: Uuid,
    turns: &'a [Uuid],
    dialogue: &'a crate::datasets::import::Dialogue,
    position: usize,
    batch: &'a str,
}

/// The comparison of a ranked conversation's replies, with each ranking the file gave,
/// credited to the source's accounts (made the first time, kept in `accounts`): the
/// rankings stored, or none when the replies answer no turn.
async fn store_comparison(
    conn: &mut sqlx::AnyConnection,
    new: &NewImport,
    now: &str,
    ranked: RankedConversation<'_>,
    accounts: &mut HashMap<Option<String>, String>,
) -> Result<Option<usize>, StoreError> {
    let RankedConversation { id: conversation, turns: ids, dialogue, position, batch } = ranked;
    let mut stored = 0;
    // The replies ranked, in the order the file gives them (an HH-RLHF row's chosen
    // first), and what they answer.
    let mut replies: Vec<usize> = dialogue.rankings.iter().flat_map(|r| r.groups.concat()).collect();
    replies.sort_unstable();
    replies.dedup();
    let Some(parent) = dialogue.turns[replies[0]].parent else { return Ok(None) };
    let mut context: Vec<app::model::ChatMessage> =
        dialogue.system.iter().map(|s| app::model::ChatMessage::new("system", s.clone())).collect();
    context.extend(dialogue.path_to(parent).into_iter().map(|t| {
        app::model::ChatMessage::new(dialogue.turns[t].role.as_str(), dialogue.turns[t].text.clone())
    }));
    let comparison = Uuid::new_v4().to_string();
    sqlx::query(
        "insert into comparisons (id, batch_id, position, conversation_id, message_id, source_owner_id, status, \
         created_at, context, queue_key, free_slots) values ($1, $2, $3, $4, $5, $6, 'ready', $7, $8, null, 0)",
    )
    .bind(&comparison)
    .bind(batch)
    .bind(position as i64)
    .bind(conversation.to_string())
    .bind(ids[replies[0]].to_string())
    .bind(new.by.to_string())
    .bind(now)
    .bind(super::to_json(&context)?)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    let completions: Vec<Uuid> = replies.iter().map(|_| Uuid::new_v4()).collect();
    for (at, (&turn, completion)) in replies.iter().zip(&completions).enumerate() {
        sqlx::query(
            "insert into completions (id, comparison_id, position, text, message_id, model_version_id, \
             sampling, finish_reason, created_at) values ($1, $2, $3, $4, $5, null, null, 'stop', $6)",
        )
        .bind(completion.to_string())
        .bind(&comparison)
        .bind(at as i64)
        .bind(&dialogue.turns[turn].text)
        .bind(ids[turn].to_string())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    let completion_of = |turn: &usize| completions[replies.binary_search(turn).unwrap_or(0)];
    for (slot, ranked) in dialogue.rankings.iter().enumerate() {
        let account = match accounts.get(&ranked.by) {
            Some(account) => account.clone(),
            None => {
                let name = match &ranked.by {
                    Some(by) => format!("{}/{by}", new.source),
                    None => new.source.clone(),
                };
                let account = source_account(&mut *conn, &new.source, &name, now).await?;
                accounts.entry(ranked.by.clone()).or_insert(account).clone()
            }
        };
        let groups: Vec<Vec<Uuid>> =
            ranked.groups.iter().map(|g| g.iter().map(completion_of).collect()).collect();
        sqlx::query(
            "insert into comparison_slots (comparison_id, slot, holder_id, lease_expires_at, done_by) \
             values ($1, $2, null, null, $3)",
        )
        .bind(&comparison)
        .bind(slot as i64)
        .bind(&account)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        sqlx::query(
            "insert into rankings (id, comparison_id, slot, ranked_by, revision, ranking, cannot_rank, \
             shown_order, labels, rationale, created_at) values ($1, $2, $3, $4, 1, $5, null, $6, '{}', '', $7)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(&comparison)
        .bind(slot as i64)
        .bind(&account)
        .bind(super::to_json(&app::ranking::Ranking { groups })?)
        .bind(super::to_json(&completions)?)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        stored += 1;
    }
    Ok(Some(stored))
}

/// The account standing for `name` (an import's source, or "source/trainer"): made the
/// first time, as a trainer who cannot sign in (no password, deactivated), marked with the
/// source so that the people lists leave it out. Its email is `import:<name>`.
async fn source_account(
    conn: &mut sqlx::AnyConnection,
    source: &str,
    name: &str,
    now: &str,
) -> Result<String, StoreError> {
    let email = format!("import:{name}");
    sqlx::query(
        "insert into users (id, email, password_hash, role, created_at, deactivated_at, source) \
         values ($1, $2, '!', 'trainer', $3, $3, $4) on conflict (email) do nothing",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(&email)
    .bind(now)
    .bind(source)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    let (id,): (String,) = sqlx::query_as("select id from users where email = $1")
        .bind(&email)
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(id)
}

/// Words the synthetic texts are made of.
const WORDS: &[&str] = &[
    "the",
    "model",
    "answer",
    "question",
    "because",
    "data",
    "train",
    "people",
    "good",
    "write",
    "explain",
    "simple",
    "example",
    "water",
    "garden",
    "history",
    "science",
    "travel",
    "recipe",
    "music",
    "careful",
    "quickly",
    "often",
    "during",
    "between",
    "without",
    "perhaps",
    "really",
    "important",
    "different",
    "language",
    "computer",
    "city",
];

fn sentence(rng: &mut impl rand::Rng, words: usize) -> String {
    let mut text = String::new();
    for i in 0..words {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
    }
    text.push('.');
    text
}

impl SqlStore {
    /// Synthetic chats, comparisons of four completions (context kept) and full rankings,
    /// with thumbs on every fifth and filter feedback on every tenth, for the export
    /// benchmark and the dataset checks. Deterministic texts (seed 7).
    /// After the ranked ones, `open` more comparisons ready to rank, one free slot each, at the
    /// end of the rank queue (to measure leasing with a queue of that size).
    /// `rankings` ranked comparisons (and `open` ones ready to rank after them) of four
    /// completions each. With `shared`, a ranked comparison's original is by one model
    /// version and the other three by another, and two trainers rank it (agreeing three times
    /// in four), so `rankings` rankings fill half as many comparisons: what the quality
    /// figures read. Without, one trainer, one version, one ranking per comparison.
    pub async fn seed_synthetic(&self, rankings: u64, open: u64, shared: bool) -> Result<(), StoreError> {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let now = now_rfc3339();
        let per: u64 = if shared { 2 } else { 1 };
        let (user, user2) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        let (version, version_b) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        let (batch, batch_ranked) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        let sampling = super::to_json(&app::model::SamplingParams::default())?;
        let mut tx = self.write_tx().await?;
        for who in [&user, &user2].into_iter().take(per as usize) {
            sqlx::query(
                "insert into users (id, email, password_hash, role, created_at) values ($1, $2, 'x', 'trainer', $3)",
            )
            .bind(who)
            .bind(format!("synthetic-{who}@example.org"))
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        for (id, name) in
            [(&version, "synthetic"), (&version_b, "synthetic-b")].into_iter().take(per as usize)
        {
            sqlx::query(
                "insert into model_versions (id, name, source, sha256, fingerprint, registered_at) \
                 values ($1, $2, 'synthetic', null, $3, $4)",
            )
            .bind(id)
            .bind(name)
            .bind(format!("synthetic-{id}"))
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        // Open comparisons owe one ranking; ranked ones have `per`.
        for (id, overlap) in [(&batch, 1i64), (&batch_ranked, per as i64)] {
            sqlx::query(
                "insert into comparison_batches (id, created_by, seed, k, overlap, include_original, allow_own, sampling, created_at) \
                 values ($1, $2, '7', 4, $5, 1, 1, $4, $3)",
            )
            .bind(id)
            .bind(&user)
            .bind(&now)
            // The sampling a batch (and a model-written turn) records, so its comparisons read
            // back on the Rank page.
            .bind(&sampling)
            .bind(overlap)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let (queue_end,): (i64,) = sqlx::query_as("select coalesce(max(queue_key), 0) from comparisons")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        // Each ranked comparison is ranked by two trainers (the last by one, for an odd count).
        let pairs = rankings.div_ceil(per);
        for position in 0..pairs + open {
            let ranked = position < pairs;
            let (chat, question, reply, comparison) = (
                Uuid::new_v4().to_string(),
                Uuid::new_v4().to_string(),
                Uuid::new_v4().to_string(),
                Uuid::new_v4().to_string(),
            );
            let asked = sentence(&mut rng, 18);
            let context = serde_json::json!([{ "role": "system", "content": "You are a helpful assistant." }, { "role": "user", "content": asked }]).to_string();
            sqlx::query(
                "insert into conversations (id, kind, owner_id, system_prompt, status, sampling, revision, created_at, updated_at) \
                 values ($1, 'chat', $2, 'You are a helpful assistant.', 'draft', null, 0, $3, $3)",
            )
            .bind(&chat).bind(&user).bind(&now).execute(&mut *tx).await.map_err(backend)?;
            let texts: Vec<String> = (0..4).map(|_| sentence(&mut rng, 45)).collect();
            for (id, parent, role, text, author, model) in [
                (&question, None, "user", &asked, Some(&user), None),
                (&reply, Some(&question), "assistant", &texts[0], None, Some(&version)),
            ] {
                sqlx::query(
                    "insert into messages (id, conversation_id, parent_id, position, role, text, author_user_id, \
                     author_model_version_id, created_at, updated_at, sampling) values ($1, $2, $3, 0, $4, $5, $6, $7, $8, $8, $9)",
                )
                .bind(id).bind(&chat).bind(parent).bind(role).bind(text).bind(author).bind(model).bind(&now)
                .bind(model.map(|_| sampling.clone()))
                .execute(&mut *tx).await.map_err(backend)?;
            }
            sqlx::query(
                "insert into comparisons (id, batch_id, position, conversation_id, message_id, source_owner_id, status, created_at, context, \
                 queue_key, free_slots) values ($1, $2, $3, $4, $5, $6, 'ready', $7, $8, $9, $10)",
            )
            .bind(&comparison).bind(if ranked { &batch_ranked } else { &batch }).bind(position as i64).bind(&chat).bind(&reply).bind(&user).bind(&now).bind(&context)
            .bind(queue_end + 1 + position as i64).bind(i64::from(!ranked))
            .execute(&mut *tx).await.map_err(backend)?;
            let mut ids = vec![];
            for (i, text) in texts.iter().enumerate() {
                let id = Uuid::new_v4();
                sqlx::query(
                    "insert into completions (id, comparison_id, position, text, message_id, model_version_id, sampling, finish_reason, created_at) \
                     values ($1, $2, $3, $4, $5, $6, null, 'stop', $7)",
                )
                .bind(id.to_string()).bind(&comparison).bind(i as i64).bind(text)
                .bind((i == 0).then(|| reply.clone())).bind(if i == 0 || !shared { &version } else { &version_b }).bind(&now)
                .execute(&mut *tx).await.map_err(backend)?;
                ids.push(id);
            }
            if !ranked {
                sqlx::query("insert into comparison_slots (comparison_id, slot) values ($1, 0)")
                    .bind(&comparison)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                continue;
            }
            use rand::seq::SliceRandom;
            ids.shuffle(&mut rng);
            let mut groups: Vec<Vec<Uuid>> = ids.iter().map(|id| vec![*id]).collect();
            // The second trainer agrees three times in four, and otherwise swaps the first two.
            let second = shared && 2 * position + 1 < rankings;
            for (slot, who) in [&user, &user2].into_iter().enumerate().take(if second { 2 } else { 1 }) {
                if slot == 1 && position % 4 == 3 {
                    groups.swap(0, 1);
                }
                let ranking = serde_json::json!({ "groups": groups }).to_string();
                sqlx::query(
                    "insert into comparison_slots (comparison_id, slot, holder_id, lease_expires_at, done_by) values ($1, $2, null, null, $3)",
                )
                .bind(&comparison).bind(slot as i64).bind(who).execute(&mut *tx).await.map_err(backend)?;
                sqlx::query(
                    "insert into rankings (id, comparison_id, slot, ranked_by, revision, ranking, cannot_rank, shown_order, labels, rationale, created_at) \
                     values ($1, $2, $3, $4, 1, $5, null, '[]', '{}', '', $6)",
                )
                .bind(Uuid::new_v4().to_string()).bind(&comparison).bind(slot as i64).bind(who).bind(&ranking).bind(&now)
                .execute(&mut *tx).await.map_err(backend)?;
            }
            // Every fifth: thumbs on the best completion; every tenth: the filter flagged the
            // question and the trainer said it was not unsafe.
            if position % 5 == 0 {
                sqlx::query(
                    "insert into feedback (target_kind, target_id, user_id, thumbs, categories, text, created_at, updated_at) \
                     values ('completion', $1, $2, $3, '[]', '', $4, $4)",
                )
                .bind(ids[0].to_string()).bind(&user).bind(if position % 10 == 0 { 1i64 } else { -1 }).bind(&now)
                .execute(&mut *tx).await.map_err(backend)?;
            }
            if position % 10 == 0 {
                sqlx::query(
                    "insert into filter_decisions (id, message_id, policy_version, action, categories, hits, created_at) \
                     values ($1, $2, 0, 'warn', '[\"violence\"]', '[]', $3)",
                )
                .bind(Uuid::new_v4().to_string()).bind(&question).bind(&now)
                .execute(&mut *tx).await.map_err(backend)?;
                sqlx::query(
                    "insert into filter_feedback (message_id, user_id, kind, category, note, created_at) \
                     values ($1, $2, 'false_positive', 'violence', '', $3)",
                )
                .bind(&question)
                .bind(&user)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)?;
        self.analyze_queue().await
    }
}

use super::{SqlStore, backend, changed, corrupt, is_unique_violation, json, uuid};
use app::conversation::{
    Author, Conversation, ConversationFilter, ConversationSummary, Message, Suggestion, SuggestionTaken,
};
use app::ssr::clock::now_rfc3339;
use app::ssr::{ConversationRevision, NewConversation, NewMessage, NewSuggestions, StoreError};
use uuid::Uuid;

struct ConversationRow {
    id: String,
    kind: String,
    owner_id: String,
    system_prompt: Option<String>,
    status: String,
    sampling: Option<String>,
    revision: i64,
    created_at: String,
    updated_at: String,
    composer: Option<String>,
}
crate::store::from_columns!(ConversationRow {
    id,
    kind,
    owner_id,
    system_prompt,
    status,
    sampling,
    revision,
    created_at,
    updated_at,
    composer
});

struct SuggestionRow {
    id: String,
    idx: i64,
    parent_id: Option<String>,
    role: String,
    text: String,
    model_version_id: String,
    sampling: String,
    finish_reason: String,
    created_at: String,
    taken_message_id: Option<String>,
}
crate::store::from_columns!(SuggestionRow {
    id,
    idx,
    parent_id,
    role,
    text,
    model_version_id,
    sampling,
    finish_reason,
    created_at,
    taken_message_id
});

impl SuggestionRow {
    fn into_suggestion(self) -> Result<Suggestion, StoreError> {
        Ok(Suggestion {
            request_id: uuid(&self.id)?,
            index: self.idx,
            parent_id: self.parent_id.as_deref().map(uuid).transpose()?,
            role: self.role.parse().map_err(|_| corrupt("role of suggestion", &self.id))?,
            text: self.text,
            model_version_id: uuid(&self.model_version_id)?,
            sampling: json(Some(&self.sampling), &self.id)?
                .ok_or_else(|| corrupt("sampling of", &self.id))?,
            finish_reason: self.finish_reason,
            created_at: self.created_at,
            taken_message_id: self.taken_message_id.as_deref().map(uuid).transpose()?,
        })
    }
}

struct SummaryRow {
    id: String,
    kind: String,
    status: String,
    revision: i64,
    updated_at: String,
    title: Option<String>,
    messages: i64,
}
crate::store::from_columns!(SummaryRow { id, kind, status, revision, updated_at, title, messages });

struct MessageRow {
    id: String,
    parent_id: Option<String>,
    position: i64,
    role: String,
    text: String,
    author_user_id: Option<String>,
    author_model_version_id: Option<String>,
    sampling: Option<String>,
    suggestion_text: Option<String>,
    suggestion_model_version_id: Option<String>,
    edit_distance: Option<i64>,
    edit_ratio: Option<f64>,
    created_at: String,
    updated_at: String,
}
crate::store::from_columns!(MessageRow {
    id,
    parent_id,
    position,
    role,
    text,
    author_user_id,
    author_model_version_id,
    sampling,
    suggestion_text,
    suggestion_model_version_id,
    edit_distance,
    edit_ratio,
    created_at,
    updated_at
});

impl MessageRow {
    fn into_message(self) -> Result<Message, StoreError> {
        let author = match (&self.author_user_id, &self.author_model_version_id) {
            (Some(user), None) => Author::Trainer { user_id: uuid(user)? },
            (None, Some(version)) => Author::Model {
                model_version_id: uuid(version)?,
                sampling: json(self.sampling.as_deref(), &self.id)?
                    .ok_or_else(|| corrupt("sampling of", &self.id))?,
            },
            _ => return Err(corrupt("author of message", &self.id)),
        };
        let suggestion = match (self.suggestion_text, &self.suggestion_model_version_id) {
            (Some(text), Some(version)) => Some(SuggestionTaken {
                text,
                model_version_id: uuid(version)?,
                edit_distance: self.edit_distance.unwrap_or(0),
                edit_ratio: self.edit_ratio.unwrap_or(0.0),
            }),
            _ => None,
        };
        Ok(Message {
            id: uuid(&self.id)?,
            parent_id: self.parent_id.as_deref().map(uuid).transpose()?,
            position: self.position,
            role: self.role.parse().map_err(|_| corrupt("role of message", &self.id))?,
            text: self.text,
            author,
            suggestion,
            created_at: self.created_at,
            updated_at: self.updated_at,
            filter: None,
        })
    }
}

/// A message id already stored: the same send again answers what it stored; the id used
/// in another conversation (anyone's) is a taken id.
fn retried_message(stored_in: Uuid, stored: Message, conversation_id: Uuid) -> Result<Message, StoreError> {
    if stored_in == conversation_id { Ok(stored) } else { Err(StoreError::AlreadyMade("message")) }
}

macro_rules! select_messages {
    ($rest:literal) => {
        concat!(
            "select id, parent_id, position, role, text, author_user_id, author_model_version_id, sampling, \
             suggestion_text, suggestion_model_version_id, edit_distance, edit_ratio, created_at, updated_at \
             from messages ",
            $rest
        )
    };
}

/// The conversations a work list filter matches: `$1` owner, `$2` kind, `$3` status, `$4`
/// a LIKE pattern over any turn (each empty for no filter).
macro_rules! matching_conversations {
    () => {
        "from conversations c \
             where ($1 = '' or c.owner_id = $1) and ($2 = '' or c.kind = $2) and ($3 = '' or c.status = $3) \
             and ($4 = '' or exists (select 1 from messages m where m.conversation_id = c.id \
                  and lower(m.text) like $4 escape '\\'))"
    };
}

impl SqlStore {
    pub(super) async fn insert_conversation(&self, new: NewConversation) -> Result<Conversation, StoreError> {
        let now = now_rfc3339();
        let sampling = new.sampling.as_ref().map(|s| serde_json::to_string(s).unwrap_or_default());
        let inserted = sqlx::query(
            "insert into conversations (id, kind, owner_id, system_prompt, status, sampling, revision, created_at, updated_at) \
             values ($1, $2, $3, $4, 'draft', $5, 0, $6, $6)",
        )
        .bind(new.id.to_string())
        .bind(new.kind.as_str())
        .bind(new.owner_id.to_string())
        .bind(&new.system_prompt)
        .bind(sampling)
        .bind(&now)
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {}
            Err(err) => return Err(backend(err)),
        }
        match self.load_conversation(new.id).await? {
            Some(stored) if stored.owner_id == new.owner_id && stored.kind == new.kind => Ok(stored),
            // Someone else's id, or another kind: a taken id, answered as any other.
            _ => Err(StoreError::AlreadyMade("conversation")),
        }
    }

    pub(super) async fn load_conversation(&self, id: Uuid) -> Result<Option<Conversation>, StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        Self::load_conversation_on(&mut conn, id).await
    }

    /// The conversation as read on one connection (inside a transaction: as it holds it).
    async fn load_conversation_on(
        conn: &mut sqlx::AnyConnection,
        id: Uuid,
    ) -> Result<Option<Conversation>, StoreError> {
        let row: Option<ConversationRow> = sqlx::query_as(
            "select id, kind, owner_id, system_prompt, status, sampling, revision, created_at, updated_at, \
             composer from conversations where id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let rows: Vec<MessageRow> =
            sqlx::query_as(select_messages!("where conversation_id = $1 order by created_at, position"))
                .bind(id.to_string())
                .fetch_all(&mut *conn)
                .await
                .map_err(backend)?;
        let mut messages = rows.into_iter().map(MessageRow::into_message).collect::<Result<Vec<_>, _>>()?;
        let verdicts = Self::verdicts_in(&mut *conn, id).await?;
        for message in &mut messages {
            message.filter = verdicts.get(&message.id).cloned();
        }
        // Each request's alternatives in index order (each is stored when it finishes), the
        // requests in the order they began.
        let suggestions: Vec<SuggestionRow> = sqlx::query_as(
            "select id, idx, parent_id, role, text, model_version_id, sampling, finish_reason, created_at, \
             taken_message_id from suggestions where conversation_id = $1 \
             order by min(created_at) over (partition by id), id, idx",
        )
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let suggestions =
            suggestions.into_iter().map(SuggestionRow::into_suggestion).collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Conversation {
            id: uuid(&row.id)?,
            kind: row.kind.parse().map_err(|_| corrupt("kind of conversation", &row.id))?,
            owner_id: uuid(&row.owner_id)?,
            system_prompt: row.system_prompt,
            status: row.status.parse().map_err(|_| corrupt("status of conversation", &row.id))?,
            sampling: json(row.sampling.as_deref(), &row.id)?,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
            messages,
            composer: row.composer,
            suggestions,
            my_feedback: vec![],
            my_filter_feedback: vec![],
        }))
    }

    async fn message(&self, id: Uuid) -> Result<Option<(Uuid, Message)>, StoreError> {
        struct Owner {
            conversation_id: String,
        }
        crate::store::from_columns!(Owner { conversation_id });
        let owner: Option<Owner> = sqlx::query_as("select conversation_id from messages where id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        let Some(owner) = owner else { return Ok(None) };
        let row: MessageRow = sqlx::query_as(select_messages!("where id = $1"))
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await
            .map_err(backend)?;
        Ok(Some((uuid(&owner.conversation_id)?, row.into_message()?)))
    }

    pub(super) async fn insert_message(
        &self,
        conversation_id: Uuid,
        new: NewMessage,
    ) -> Result<Message, StoreError> {
        if let Some((stored_in, stored)) = self.message(new.id).await? {
            // The same send again: answer with what it stored.
            return retried_message(stored_in, stored, conversation_id);
        }
        if let Some(parent) = new.parent_id {
            match self.message(parent).await? {
                Some((parent_in, _)) if parent_in == conversation_id => {}
                _ => return Err(StoreError::NotFound("parent message")),
            }
        }
        let now = now_rfc3339();
        let mut tx = self.write_tx().await?;
        // Bump the conversation first: it takes the write lock, so siblings get distinct positions.
        // A changed conversation is a draft again until it is submitted (a new revision).
        let touched = sqlx::query("update conversations set updated_at = $1, status = 'draft' where id = $2")
            .bind(&now)
            .bind(conversation_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        changed(touched, "conversation")?;
        let (position,): (i64,) = match new.parent_id {
            Some(parent) => {
                sqlx::query_as("select count(*) from messages where parent_id = $1")
                    .bind(parent.to_string())
                    .fetch_one(&mut *tx)
                    .await
            }
            None => {
                sqlx::query_as(
                    "select count(*) from messages where conversation_id = $1 and parent_id is null",
                )
                .bind(conversation_id.to_string())
                .fetch_one(&mut *tx)
                .await
            }
        }
        .map_err(backend)?;
        let (user, model, sampling) = match &new.author {
            Author::Trainer { user_id } => (Some(user_id.to_string()), None, None),
            Author::Model { model_version_id, sampling } => {
                (None, Some(model_version_id.to_string()), serde_json::to_string(sampling).ok())
            }
        };
        let suggestion = new.suggestion.as_ref();
        let inserted = sqlx::query(
            "insert into messages (id, conversation_id, parent_id, position, role, text, author_user_id, \
             author_model_version_id, sampling, suggestion_text, suggestion_model_version_id, edit_distance, \
             edit_ratio, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        )
        .bind(new.id.to_string())
        .bind(conversation_id.to_string())
        .bind(new.parent_id.map(|p| p.to_string()))
        .bind(position)
        .bind(new.role.as_str())
        .bind(&new.text)
        .bind(user)
        .bind(model)
        .bind(sampling)
        .bind(suggestion.map(|s| s.text.clone()))
        .bind(suggestion.map(|s| s.model_version_id.to_string()))
        .bind(suggestion.map(|s| s.edit_distance))
        .bind(suggestion.map(|s| s.edit_ratio))
        .bind(&now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // A concurrent twin of this send committed first (PostgreSQL): answer with it.
            Err(err) if is_unique_violation(&err) => {
                drop(tx);
                return match self.message(new.id).await? {
                    Some((stored_in, stored)) => retried_message(stored_in, stored, conversation_id),
                    None => Err(StoreError::Stale("conversation")),
                };
            }
            Err(err) => return Err(backend(err)),
        }
        if let Some(decision) = &new.decision {
            super::filter::write_decision(&mut tx, new.id, &decision.verdict, &decision.hits).await?;
        }
        if let Some((request_id, index)) = new.taken_from {
            sqlx::query(
                "update suggestions set taken_message_id = $1 where id = $2 and idx = $3 and conversation_id = $4",
            )
            .bind(new.id.to_string())
            .bind(request_id.to_string())
            .bind(index)
            .bind(conversation_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        self.message(new.id).await?.map(|(_, m)| m).ok_or(StoreError::NotFound("message"))
    }

    pub(super) async fn update_message(
        &self,
        id: Uuid,
        text: &str,
        suggestion: Option<SuggestionTaken>,
        decision: Option<&app::ssr::FilterDecision>,
    ) -> Result<Message, StoreError> {
        let suggestion = suggestion.as_ref();
        let now = now_rfc3339();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "update conversations set updated_at = $1, status = 'draft' \
             where id = (select conversation_id from messages where id = $2)",
        )
        .bind(&now)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let done = sqlx::query(
            "update messages set text = $1, suggestion_text = $2, suggestion_model_version_id = $3, \
             edit_distance = $4, edit_ratio = $5, updated_at = $6, edited_by_reviewer_id = null where id = $7",
        )
        .bind(text)
        .bind(suggestion.map(|s| s.text.clone()))
        .bind(suggestion.map(|s| s.model_version_id.to_string()))
        .bind(suggestion.map(|s| s.edit_distance))
        .bind(suggestion.map(|s| s.edit_ratio))
        .bind(&now)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        changed(done, "message")?;
        if let Some(decision) = decision {
            super::filter::write_decision(&mut tx, id, &decision.verdict, &decision.hits).await?;
        }
        tx.commit().await.map_err(backend)?;
        self.message(id).await?.map(|(_, m)| m).ok_or(StoreError::NotFound("message"))
    }

    pub(super) async fn submit(&self, submission: app::ssr::Submission) -> Result<Conversation, StoreError> {
        let id = submission.conversation_id;
        if let Some(request_id) = submission.request_id
            && let Some(answer) = self.submitted_before(request_id, id).await?
        {
            return answer;
        }
        let now = now_rfc3339();
        // The status, the revision and the review queue are written together, or none is.
        // The update takes the lock first (SQLite's write lock; the conversation's row on
        // PostgreSQL, which every change to its turns takes first), so the snapshot read
        // after it, in the same transaction, is exactly what is submitted.
        let mut tx = self.write_tx().await?;
        let (revision, updated_at): (i64, String) = sqlx::query_as(
            "update conversations set status = 'submitted', revision = revision + 1, updated_at = $1 \
             where id = $2 returning revision, updated_at",
        )
        .bind(&now)
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound("conversation"))?;
        let mut conversation =
            Self::load_conversation_on(&mut tx, id).await?.ok_or(StoreError::NotFound("conversation"))?;
        conversation.status = app::conversation::ConversationStatus::Submitted;
        conversation.revision = revision;
        conversation.updated_at = updated_at;
        let snapshot =
            serde_json::to_string(&conversation).map_err(|err| StoreError::Backend(err.to_string()))?;
        let inserted = sqlx::query(
            "insert into conversation_revisions \
             (conversation_id, revision, snapshot, submitted_by, submitted_at, request_id) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(revision)
        .bind(snapshot)
        .bind(submission.by.to_string())
        .bind(&now)
        .bind(submission.request_id.map(|r| r.to_string()))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // A concurrent twin of this submit (same request id) went first.
            Err(err) if is_unique_violation(&err) => {
                drop(tx);
                if let Some(request_id) = submission.request_id
                    && let Some(answer) = self.submitted_before(request_id, id).await?
                {
                    return answer;
                }
                return Err(StoreError::AlreadyMade("revision"));
            }
            Err(err) => return Err(backend(err)),
        }
        match &submission.review_reason {
            Some(reason) => {
                sqlx::query(
                    "insert into review_queue (conversation_id, revision, reason, queued_at) values ($1, $2, $3, $4) \
                     on conflict (conversation_id) do update set revision = excluded.revision, \
                     reason = excluded.reason, queued_at = excluded.queued_at, held_by = null, held_until = null",
                )
                .bind(id.to_string())
                .bind(revision)
                .bind(reason)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
            None => {
                // Queued before and not yet reviewed: it still waits, now at this revision.
                sqlx::query(
                    "update review_queue set revision = $1, queued_at = $2, held_by = null, held_until = null \
                     where conversation_id = $3",
                )
                .bind(revision)
                .bind(&now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(conversation)
    }

    /// The answer to a submit whose request id is stored: the conversation as it stands,
    /// or a taken id when that submit was of another conversation.
    async fn submitted_before(
        &self,
        request_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Result<Conversation, StoreError>>, StoreError> {
        let stored: Option<(String,)> =
            sqlx::query_as("select conversation_id from conversation_revisions where request_id = $1")
                .bind(request_id.to_string())
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        let Some((stored_in,)) = stored else { return Ok(None) };
        if stored_in != id.to_string() {
            return Ok(Some(Err(StoreError::AlreadyMade("submission"))));
        }
        Ok(Some(self.load_conversation(id).await?.ok_or(StoreError::NotFound("conversation"))))
    }

    pub(super) async fn revisions(&self, id: Uuid) -> Result<Vec<ConversationRevision>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "select revision, submitted_by, submitted_at, snapshot from conversation_revisions \
             where conversation_id = $1 order by revision",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(revision, by, at, snapshot)| {
                Ok(ConversationRevision {
                    revision,
                    submitted_by: uuid(&by)?,
                    submitted_at: at,
                    snapshot: serde_json::from_str(&snapshot)
                        .map_err(|_| corrupt("revision of", &id.to_string()))?,
                })
            })
            .collect()
    }
}

impl SqlStore {
    pub(super) async fn update_composer(&self, id: Uuid, text: Option<&str>) -> Result<(), StoreError> {
        let done = sqlx::query("update conversations set composer = $1 where id = $2")
            .bind(text)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(backend)?;
        changed(done, "conversation")
    }

    pub(super) async fn update_sampling(
        &self,
        id: Uuid,
        sampling: &app::model::SamplingParams,
    ) -> Result<(), StoreError> {
        let sampling = serde_json::to_string(sampling).map_err(|err| StoreError::Backend(err.to_string()))?;
        let done = sqlx::query("update conversations set sampling = $1 where id = $2")
            .bind(sampling)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(backend)?;
        changed(done, "conversation")
    }

    pub(super) async fn insert_suggestions(&self, new: NewSuggestions) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let sampling =
            serde_json::to_string(&new.sampling).map_err(|err| StoreError::Backend(err.to_string()))?;
        let mut tx = self.write_tx().await?;
        for (index, text, finish_reason) in &new.texts {
            // One already stored (a retry, or stored when it finished) keeps its text.
            sqlx::query(
                "insert into suggestions (id, idx, conversation_id, parent_id, role, text, model_version_id, \
                 sampling, finish_reason, requested_by, created_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) on conflict (id, idx) do nothing",
            )
            .bind(new.request_id.to_string())
            .bind(*index as i64)
            .bind(new.conversation_id.to_string())
            .bind(new.parent_id.map(|p| p.to_string()))
            .bind(new.role.as_str())
            .bind(text)
            .bind(new.model_version_id.to_string())
            .bind(&sampling)
            .bind(finish_reason)
            .bind(new.requested_by.to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    pub(super) async fn insert_suggestion_stop(
        &self,
        conversation_id: Uuid,
        request_id: Uuid,
        index: i64,
        user: Uuid,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into suggestion_stops (request_id, idx, conversation_id, stopped_by, created_at) \
             values ($1, $2, $3, $4, $5) on conflict (request_id, idx) do nothing",
        )
        .bind(request_id.to_string())
        .bind(index)
        .bind(conversation_id.to_string())
        .bind(user.to_string())
        .bind(now_rfc3339())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn suggestion_stops(
        &self,
        conversation_id: Uuid,
        request_id: Uuid,
    ) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("select idx from suggestion_stops where request_id = $1 and conversation_id = $2")
                .bind(request_id.to_string())
                .bind(conversation_id.to_string())
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
        Ok(rows.into_iter().map(|(i,)| i).collect())
    }

    pub(super) async fn rearrange_turns(&self, id: Uuid, order: &[Uuid]) -> Result<Conversation, StoreError> {
        let conversation = self.load_conversation(id).await?.ok_or(StoreError::NotFound("conversation"))?;
        if order.iter().any(|m| !conversation.messages.iter().any(|stored| stored.id == *m)) {
            return Err(StoreError::NotFound("message"));
        }
        let now = now_rfc3339();
        let mut tx = self.write_tx().await?;
        sqlx::query("update conversations set updated_at = $1, status = 'draft' where id = $2")
            .bind(&now)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // Chain the kept turns first, so no deleted turn is still someone's parent.
        let mut parent: Option<String> = None;
        for message in order {
            sqlx::query("update messages set parent_id = $1, position = 0, updated_at = $2 where id = $3")
                .bind(&parent)
                .bind(&now)
                .bind(message.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            parent = Some(message.to_string());
        }
        // A turn that a comparison holds (drawn, or in its context) stays where it is.
        let compared: Vec<(String, String)> =
            sqlx::query_as("select id, message_id from comparisons where conversation_id = $1 order by id")
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        for (comparison, message) in &compared {
            let message = uuid(message)?;
            let before: Vec<Uuid> = conversation.ancestry(message).iter().map(|m| m.id).collect();
            let kept = order.iter().position(|m| *m == message).is_some_and(|at| order[..=at] == before[..]);
            if !kept {
                return Err(StoreError::Conflict {
                    field: "order",
                    message: format!(
                        "turn {message} is compared in comparison {comparison}; it and the turns before it \
                         cannot be deleted or moved"
                    ),
                });
            }
        }
        // Then delete the rest, children before parents.
        for message in conversation.messages.iter().rev().filter(|m| !order.contains(&m.id)) {
            sqlx::query("delete from messages where id = $1")
                .bind(message.id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        self.load_conversation(id).await?.ok_or(StoreError::NotFound("conversation"))
    }

    pub(super) async fn summaries(
        &self,
        filter: &ConversationFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ConversationSummary>, i64), StoreError> {
        let search = filter.search.trim().to_lowercase();
        let pattern = if search.is_empty() {
            String::new()
        } else {
            format!("%{}%", search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
        };

        let owner = filter.owner_id.map(|o| o.to_string()).unwrap_or_default();
        let kind = filter.kind.map(|k| k.as_str()).unwrap_or_default();
        let status = filter.status.map(|s| s.as_str()).unwrap_or_default();
        let rows: Vec<SummaryRow> = sqlx::query_as(concat!(
            "select c.id, c.kind, c.status, c.revision, c.updated_at, \
             (select m.text from messages m where m.conversation_id = c.id and m.parent_id is null \
              order by m.position limit 1) as title, \
             (select count(*) from messages m where m.conversation_id = c.id) as messages ",
            matching_conversations!(),
            " order by c.updated_at desc, c.id limit $5 offset $6"
        ))
        .bind(&owner)
        .bind(kind)
        .bind(status)
        .bind(&pattern)
        .bind(limit)
        .bind(offset.max(0))
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        let (total,): (i64,) = sqlx::query_as(concat!("select count(*) ", matching_conversations!()))
            .bind(&owner)
            .bind(kind)
            .bind(status)
            .bind(&pattern)
            .fetch_one(self.pool())
            .await
            .map_err(backend)?;
        let items = rows
            .into_iter()
            .map(|row| {
                let title = row.title.unwrap_or_default().trim().chars().take(120).collect();
                Ok(ConversationSummary {
                    id: uuid(&row.id)?,
                    kind: row.kind.parse().map_err(|_| corrupt("kind of conversation", &row.id))?,
                    status: row.status.parse().map_err(|_| corrupt("status of conversation", &row.id))?,
                    revision: row.revision,
                    title,
                    messages: row.messages,
                    updated_at: row.updated_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((items, total))
    }
}

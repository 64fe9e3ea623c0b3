//! Review: the queue of submitted demonstrations a reviewer reads, and the verdicts. A
//! verdict, the reviewer's edits, their revision and the conversation's new status are
//! written in one transaction, and only if the conversation is still the revision read.

use super::{SqlStore, backend, is_unique_violation, shorten, uuid};
use app::review::{MyReview, Review, Verdict};
use app::ssr::clock::now_rfc3339;
use app::ssr::{NewReview, StoreError};
use uuid::Uuid;

struct ReviewRow {
    id: String,
    conversation_id: String,
    revision: i64,
    reviewer_id: String,
    reviewer_email: String,
    verdict: String,
    reason: String,
    edited_revision: Option<i64>,
    created_at: String,
}
crate::store::from_columns!(ReviewRow {
    id,
    conversation_id,
    revision,
    reviewer_id,
    reviewer_email,
    verdict,
    reason,
    edited_revision,
    created_at
});

impl ReviewRow {
    fn into_review(self) -> Result<Review, StoreError> {
        Ok(Review {
            id: uuid(&self.id)?,
            conversation_id: uuid(&self.conversation_id)?,
            revision: self.revision,
            reviewer_id: uuid(&self.reviewer_id)?,
            reviewer_email: self.reviewer_email,
            verdict: self.verdict.parse().map_err(StoreError::Backend)?,
            reason: self.reason,
            edited_revision: self.edited_revision,
            created_at: self.created_at,
        })
    }
}

macro_rules! select_reviews {
    ($rest:literal) => {
        concat!(
            "select r.id, r.conversation_id, r.revision, r.reviewer_id, u.email as reviewer_email, r.verdict, \
             r.reason, r.edited_revision, r.created_at from reviews r join users u on u.id = r.reviewer_id ",
            $rest
        )
    };
}

impl SqlStore {
    pub(super) async fn count_submitted_demonstrations(&self, owner: Uuid) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "select count(*) from conversations where owner_id = $1 and kind = 'demonstration' and revision > 0 \
             and import_id is null",
        )
        .bind(owner.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(backend)?;
        Ok(count)
    }

    pub(super) async fn reviews_for(&self, conversation_id: Uuid) -> Result<Vec<Review>, StoreError> {
        let rows: Vec<ReviewRow> =
            sqlx::query_as(select_reviews!("where r.conversation_id = $1 order by r.created_at, r.id"))
                .bind(conversation_id.to_string())
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
        rows.into_iter().map(ReviewRow::into_review).collect()
    }

    /// Holds the oldest waiting submission that the reviewer did not write and nobody else
    /// holds, until `until`; a reviewer who asks again gets the one they hold.
    pub(super) async fn hold_next_review(
        &self,
        reviewer: Uuid,
        now: &str,
        until: &str,
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        // Another reviewer may take the same row between the read and the write: the write
        // checks the hold again, and the loser tries the next one.
        for _ in 0..5 {
            let next: Option<(String, String)> = sqlx::query_as(
                "select q.conversation_id, q.reason from review_queue q \
                 join conversations c on c.id = q.conversation_id \
                 where c.owner_id <> $1 and c.status = 'submitted' and c.revision = q.revision \
                 and (q.held_by is null or q.held_by = $1 or q.held_until < $2) \
                 order by case when q.held_by = $1 then 0 else 1 end, q.queued_at, q.conversation_id limit 1",
            )
            .bind(reviewer.to_string())
            .bind(now)
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
            let Some((id, reason)) = next else { return Ok(None) };
            let held = sqlx::query(
                "update review_queue set held_by = $1, held_until = $2 where conversation_id = $3 \
                 and (held_by is null or held_by = $1 or held_until < $4)",
            )
            .bind(reviewer.to_string())
            .bind(until)
            .bind(&id)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(backend)?;
            if held.rows_affected() == 1 {
                return Ok(Some((uuid(&id)?, reason)));
            }
        }
        Ok(None)
    }

    pub(super) async fn count_review_queue(&self) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "select count(*) from review_queue q join conversations c on c.id = q.conversation_id \
             where c.status = 'submitted' and c.revision = q.revision",
        )
        .fetch_one(self.pool())
        .await
        .map_err(backend)?;
        Ok(count)
    }

    pub(super) async fn insert_review(&self, new: NewReview) -> Result<Review, StoreError> {
        // The same verdict sent again answers what it stored; the id of anyone else's
        // verdict, or of another item, is refused like any verdict not held.
        if let Some(review) = self.review_by_id(new.id).await? {
            return same_review(review, &new);
        }
        let now = now_rfc3339();
        let id = new.conversation_id.to_string();
        let status = match new.verdict {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
        };
        let mut tx = self.write_tx().await?;
        // The queue row is the hold: only the reviewer it names, at the revision it queued,
        // may give the verdict, which takes the row out of the queue.
        let taken = sqlx::query(
            "delete from review_queue where conversation_id = $1 and revision = $2 and held_by = $3",
        )
        .bind(&id)
        .bind(new.revision)
        .bind(new.reviewer_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if taken.rows_affected() != 1 {
            drop(tx);
            // A concurrent twin of this verdict may have taken it first.
            return match self.review_by_id(new.id).await? {
                Some(review) => same_review(review, &new),
                None => Err(not_held()),
            };
        }
        let edited_revision = new.edited.as_ref().map(|_| new.revision + 1);
        // Only the revision the reviewer read may change; the author may have edited since.
        let moved = sqlx::query(
            "update conversations set status = $1, revision = $2, updated_at = $3 \
             where id = $4 and revision = $5 and status = 'submitted'",
        )
        .bind(status)
        .bind(edited_revision.unwrap_or(new.revision))
        .bind(&now)
        .bind(&id)
        .bind(new.revision)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if moved.rows_affected() == 0 {
            return Err(StoreError::Stale("conversation"));
        }
        if let Some((edits, snapshot)) = &new.edited {
            for edit in edits {
                let done = sqlx::query(
                    "update messages set text = $1, updated_at = $2, edited_by_reviewer_id = $5 \
                     where id = $3 and conversation_id = $4",
                )
                .bind(&edit.text)
                .bind(&now)
                .bind(edit.message_id.to_string())
                .bind(&id)
                .bind(new.reviewer_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound("message"));
                }
            }
            for (message_id, decision) in &new.edit_decisions {
                super::filter::write_decision(&mut tx, *message_id, &decision.verdict, &decision.hits)
                    .await?;
            }
            sqlx::query(
                "insert into conversation_revisions (conversation_id, revision, snapshot, submitted_by, submitted_at) \
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(new.revision + 1)
            .bind(snapshot)
            .bind(new.reviewer_id.to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let inserted = sqlx::query(
            "insert into reviews (id, conversation_id, revision, reviewer_id, verdict, reason, edited_revision, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.id.to_string())
        .bind(&id)
        .bind(new.revision)
        .bind(new.reviewer_id.to_string())
        .bind(new.verdict.as_str())
        .bind(&new.reason)
        .bind(edited_revision)
        .bind(&now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                drop(tx);
                return match self.review_by_id(new.id).await? {
                    Some(review) => same_review(review, &new),
                    None => Err(not_held()),
                };
            }
            other => other.map_err(backend)?,
        };
        tx.commit().await.map_err(backend)?;
        self.review_by_id(new.id).await?.ok_or(StoreError::NotFound("review"))
    }

    async fn review_by_id(&self, id: Uuid) -> Result<Option<Review>, StoreError> {
        let row: Option<ReviewRow> = sqlx::query_as(select_reviews!("where r.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(ReviewRow::into_review).transpose()
    }

    /// The latest verdict on each of the owner's conversations, newest first.
    pub(super) async fn latest_reviews_of(&self, owner: Uuid) -> Result<Vec<MyReview>, StoreError> {
        struct Row {
            review: ReviewRow,
            title: Option<String>,
        }
        crate::store::from_columns!(Row { title } within { review });
        let rows: Vec<Row> = sqlx::query_as(
            "select r.id, r.conversation_id, r.revision, r.reviewer_id, u.email as reviewer_email, r.verdict, \
             r.reason, r.edited_revision, r.created_at, \
             (select m.text from messages m where m.conversation_id = r.conversation_id and m.parent_id is null \
              order by m.position limit 1) as title \
             from reviews r join users u on u.id = r.reviewer_id join conversations c on c.id = r.conversation_id \
             where c.owner_id = $1 and not exists (select 1 from reviews later where later.conversation_id = \
             r.conversation_id and (later.created_at > r.created_at or (later.created_at = r.created_at and later.id > r.id))) \
             order by r.created_at desc limit 200",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|row| {
                Ok(MyReview {
                    title: shorten(row.title.as_deref().unwrap_or(""), 80),
                    review: row.review.into_review()?,
                })
            })
            .collect()
    }
}

/// The one answer to a verdict the caller may not give: not held by them, not queued, not
/// at that revision, or an id already used. It says nothing about the item.
fn not_held() -> StoreError {
    StoreError::Conflict { field: "conversation_id", message: app::review::NOT_HELD.into() }
}

fn same_review(stored: Review, new: &NewReview) -> Result<Review, StoreError> {
    if stored.reviewer_id == new.reviewer_id && stored.conversation_id == new.conversation_id {
        Ok(stored)
    } else {
        Err(not_held())
    }
}

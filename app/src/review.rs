//! Review of submitted demonstrations: which submissions are queued (the policy), the verdicts
//! reviewers give, and what a reviewer reads.

use crate::conversation::{Conversation, named_enum};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

named_enum!(Verdict { Accepted = "accepted", Rejected = "rejected" });

/// Longest reason a reviewer may give, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// The one answer to a verdict the caller may not give (not held by them, never queued, at
/// another revision, an id already used, no such item): it says nothing about the item.
pub const NOT_HELD: &str =
    "you do not hold this submission for review (at this revision); ask for the next one";

/// Which submissions are reviewed: every one of a trainer's first `first` demonstrations, then
/// `share_percent` of the rest, drawn at random. A demonstration submitted again after a
/// rejection is always reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReviewPolicy {
    pub first: u32,
    pub share_percent: f64,
}

impl Default for ReviewPolicy {
    fn default() -> Self {
        ReviewPolicy { first: 20, share_percent: 10.0 }
    }
}

impl ReviewPolicy {
    /// The field at fault and why, if the policy cannot be used.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(0.0..=100.0).contains(&self.share_percent) || self.share_percent.is_nan() {
            return Err(("share_percent", format!("must be from 0 to 100, not {}", self.share_percent)));
        }
        if self.first > 100_000 {
            return Err(("first", format!("must be at most 100000, not {}", self.first)));
        }
        Ok(())
    }

    /// Why a submission is reviewed, if it is: `nth` is how many demonstrations the trainer
    /// has submitted, this one included; `draw` is a number in [0, 1).
    pub fn queue_reason(&self, nth: i64, rejected_before: bool, draw: f64) -> Option<String> {
        if rejected_before {
            Some("resubmitted after a rejection".to_string())
        } else if nth <= i64::from(self.first) {
            Some(format!("one of the trainer's first {}", self.first))
        } else if draw * 100.0 < self.share_percent {
            Some(format!("sampled ({}% of the rest)", self.share_percent))
        } else {
            None
        }
    }
}

/// A verdict as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub revision: i64,
    pub reviewer_id: Uuid,
    pub reviewer_email: String,
    pub verdict: Verdict,
    pub reason: String,
    /// The reviewer's own revision, when they edited turns before accepting.
    pub edited_revision: Option<i64>,
    pub created_at: String,
}

/// A reviewer's change to one turn's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnEdit {
    pub message_id: Uuid,
    pub text: String,
}

/// The next submission for a reviewer, held for them for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub conversation: Conversation,
    pub author_email: String,
    pub queued_because: String,
    /// Submissions waiting, this one included.
    pub waiting: i64,
    /// Earlier verdicts on this conversation, oldest first.
    pub earlier: Vec<Review>,
}

/// The latest verdict on one of the caller's conversations, for their own list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyReview {
    pub review: Review,
    /// The conversation's first turn, to recognise it.
    pub title: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_queues_the_first_then_a_share() {
        let policy = ReviewPolicy { first: 20, share_percent: 10.0 };
        assert!(policy.queue_reason(1, false, 0.99).unwrap().contains("first 20"));
        assert!(policy.queue_reason(20, false, 0.99).is_some());
        assert_eq!(policy.queue_reason(21, false, 0.10), None);
        assert!(policy.queue_reason(21, false, 0.09).unwrap().contains("10%"));
        assert!(policy.queue_reason(500, true, 0.99).unwrap().contains("rejection"));
        assert!(ReviewPolicy { first: 0, share_percent: 101.0 }.check().is_err());
        assert_eq!(ReviewPolicy::default().check(), Ok(()));
    }
}

named_enum!(
    /// A reviewer's verdict on a doubtful ranking.
    RankingVerdict("ranking verdict") { Stands = "stands", SetAside = "set_aside" }
);

/// A verdict stored on a doubtful ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedRanking {
    pub id: Uuid,
    pub ranking_id: Uuid,
    pub reviewer_id: Uuid,
    pub verdict: RankingVerdict,
    pub note: String,
    pub created_at: String,
}

/// One reply of a doubtful ranking as the reviewer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoubtReply {
    pub text: String,
    /// Its place in the ranking under review (1 = best; tied replies share one, and the
    /// next group is one place down, as `quality::places` counts from 0).
    pub place: usize,
    /// Its places in the other trainers' rankings, counted alike.
    pub others: Vec<usize>,
    /// The reward model's score, when the run read this reply.
    pub score: Option<f32>,
}

/// A doubtful ranking with what is needed to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoubtItem {
    pub doubt: crate::reward::Doubt,
    /// The conversation up to the compared reply.
    pub prompt: Vec<crate::model::ChatMessage>,
    /// In the order of the ranking under review.
    pub replies: Vec<DoubtReply>,
}

/// The doubtful rankings of the latest reward-model run that no reviewer has judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoubtQueue {
    /// The run they come from, none before a run finished.
    pub run_id: Option<Uuid>,
    pub run_finished_at: Option<String>,
    /// Its held-out accuracy (the kept head).
    pub accuracy: Option<f64>,
    pub threshold: f64,
    /// Doubtful rankings in the run, and of those already judged or since re-ranked.
    pub found: usize,
    pub settled: usize,
    /// The first waiting (at most 20), most doubtful first.
    pub items: Vec<DoubtItem>,
}

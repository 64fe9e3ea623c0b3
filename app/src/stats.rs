//! What the dashboard, the personal page and the leaderboard show: raw rows the store reads
//! and the figures computed from them (see `quality` for the statistics).

use crate::quality::Agreement;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A trainer's latest ranking of a comparison (their newest revision, when it ranks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingRow {
    pub comparison_id: Uuid,
    pub batch_id: Uuid,
    pub ranked_by: Uuid,
    pub groups: Vec<Vec<Uuid>>,
    pub created_at: String,
}

/// Which model version wrote a completion (none for a person's text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionModel {
    pub comparison_id: Uuid,
    pub completion_id: Uuid,
    pub model_version_id: Option<Uuid>,
}

/// One page of ranked comparisons (see `Store::ranked_page`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankedPage {
    /// Ordered by comparison, then time.
    pub rankings: Vec<RankingRow>,
    pub completions: Vec<CompletionModel>,
    /// The last comparison of the page; `None` when there are no more.
    pub last: Option<Uuid>,
}

/// Things one person did on one day (UTC), by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub day: String,
    pub kind: String,
    pub user_id: Uuid,
    pub count: i64,
}

/// The kinds of work counted per day, in chart order, with their labels.
pub const ACTIVITY_KINDS: [(&str, &str); 5] = [
    ("demonstration", "Demonstrations submitted"),
    ("chat", "Chat turns"),
    ("ranking", "Rankings"),
    ("feedback", "Feedback"),
    ("review", "Reviews"),
];

/// One line or bar series of a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Agreement of one group (a batch, a model version, a day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAgreement {
    pub label: String,
    pub agreement: Agreement,
}

/// A trainer's mean Kendall's τ-b against the consensus of the others who ranked the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerAgreement {
    pub user_id: Uuid,
    pub email: String,
    pub tau: f64,
    pub comparisons: usize,
}

/// A model version's Bradley–Terry strength (geometric mean of all versions = 1) with its
/// 95% bootstrap interval, and its raw wins in rankings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStrength {
    pub model_version_id: Uuid,
    pub name: String,
    pub strength: f64,
    pub low: f64,
    pub high: f64,
    /// Pairs against another version's completion won (ties count half), and pairs played.
    pub wins: f64,
    pub games: f64,
}

/// When figures served from the cache were computed, and how old they may get.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    /// RFC 3339, UTC.
    pub computed_at: String,
    pub max_age_secs: u64,
    /// How long computing them took, in milliseconds.
    #[serde(default)]
    pub took_ms: u64,
}

impl Freshness {
    /// "Figures as of 10:42:05 UTC (computed in 12 ms), recomputed at most every 30 s."
    pub fn describe(&self) -> String {
        let time = self.computed_at.get(11..19).unwrap_or(&self.computed_at);
        let took = if self.took_ms >= 1000 {
            format!("{:.1} s", self.took_ms as f64 / 1000.0)
        } else {
            format!("{} ms", self.took_ms)
        };
        if self.max_age_secs == 0 {
            return format!("Figures as of {time} UTC, computed for this view in {took}.");
        }
        format!(
            "Figures as of {time} UTC (computed in {took}), recomputed at most every {} s.",
            self.max_age_secs
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    #[serde(default)]
    pub freshness: Freshness,
    pub days: Vec<String>,
    pub per_day: Vec<Series>,
    /// (queue, items waiting)
    pub queues: Vec<(String, i64)>,
    pub agreement: Agreement,
    pub agreement_by_day: Vec<GroupAgreement>,
    pub by_batch: Vec<GroupAgreement>,
    pub by_model: Vec<GroupAgreement>,
    pub by_trainer: Vec<TrainerAgreement>,
    pub models: Vec<ModelStrength>,
    /// (category, times ticked)
    pub feedback_categories: Vec<(String, i64)>,
    pub thumbs_up: i64,
    pub thumbs_down: i64,
    /// (category, precision)
    pub filter_precision: Vec<(String, Option<f64>)>,
}

/// A trainer's own figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub freshness: Freshness,
    pub user_id: Uuid,
    pub email: String,
    pub days: Vec<String>,
    pub per_day: Vec<Series>,
    /// (kind label, all-time count)
    pub totals: Vec<(String, i64)>,
    /// Days in a row with some work, up to today (or yesterday, when today has none yet).
    pub streak: i64,
    pub agreement: Option<TrainerAgreement>,
    pub accepted: i64,
    pub rejected: i64,
    pub waiting: i64,
    pub edited_by_reviewer: i64,
    pub place: Option<usize>,
    pub score: f64,
}

/// How the leaderboard scores, shown on the page as it is computed.
pub const SCORE_FORMULA: &str = "score = 5 × accepted demonstrations + 2 × demonstrations submitted and not yet reviewed + 1 × rankings + 0.5 × feedback given (rejected demonstrations count 0)";

/// Work counted for the leaderboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub accepted: i64,
    pub rejected: i64,
    pub unreviewed: i64,
    pub rankings: i64,
    pub feedback: i64,
}

impl Tally {
    pub fn score(&self) -> f64 {
        5.0 * self.accepted as f64
            + 2.0 * self.unreviewed as f64
            + self.rankings as f64
            + 0.5 * self.feedback as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderRow {
    pub place: usize,
    pub user_id: Uuid,
    pub email: String,
    pub tally: Tally,
    pub score: f64,
}

/// Places by score, highest first; equal scores share a place.
pub fn leaderboard(mut rows: Vec<(Uuid, String, Tally)>) -> Vec<LeaderRow> {
    rows.sort_by(|a, b| b.2.score().total_cmp(&a.2.score()).then(a.1.cmp(&b.1)));
    let mut out: Vec<LeaderRow> = Vec::with_capacity(rows.len());
    for (i, (user_id, email, tally)) in rows.into_iter().enumerate() {
        let score = tally.score();
        let place = match out.last() {
            Some(prev) if prev.score == score => prev.place,
            _ => i + 1,
        };
        out.push(LeaderRow { place, user_id, email, tally, score });
    }
    out
}

/// Days in a row with some work ending today or, when today has none yet, yesterday.
/// `active` holds days as "YYYY-MM-DD"; `days` is the calendar up to today, oldest first.
pub fn streak(active: &[String], days: &[String]) -> i64 {
    let mut run = 0;
    let mut iter = days.iter().rev().peekable();
    if iter.peek().is_some_and(|today| !active.contains(today)) {
        iter.next();
    }
    for day in iter {
        if active.contains(day) {
            run += 1;
        } else {
            break;
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_share_on_equal_scores() {
        let t = |accepted, rankings| Tally { accepted, rankings, ..Tally::default() };
        let rows = leaderboard(vec![
            (Uuid::from_u128(1), "a@x".into(), t(1, 0)),
            (Uuid::from_u128(2), "b@x".into(), t(0, 5)),
            (Uuid::from_u128(3), "c@x".into(), t(2, 0)),
        ]);
        let places: Vec<(usize, &str, f64)> =
            rows.iter().map(|r| (r.place, r.email.as_str(), r.score)).collect();
        assert_eq!(places, vec![(1, "c@x", 10.0), (2, "a@x", 5.0), (2, "b@x", 5.0)]);
    }

    #[test]
    fn streak_counts_back_from_today_or_yesterday() {
        let days: Vec<String> = (1..=5).map(|d| format!("2026-11-0{d}")).collect();
        let active = |d: &[u32]| d.iter().map(|d| format!("2026-11-0{d}")).collect::<Vec<_>>();
        assert_eq!(streak(&active(&[3, 4, 5]), &days), 3);
        assert_eq!(streak(&active(&[2, 3, 4]), &days), 3, "today not yet worked");
        assert_eq!(streak(&active(&[1, 2, 4]), &days), 1);
        assert_eq!(streak(&active(&[1, 2]), &days), 0);
    }
}

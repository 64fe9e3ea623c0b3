//! Doubtful rankings: the latest reward-model run lists the rankings that it and the other
//! trainers of the same comparison both order the other way; reviewers read each beside the
//! others' places and the model's scores, and let it stand or set it aside (then exports,
//! agreement and later training leave it out).

use crate::error::ApiError;
use crate::review::{DoubtQueue, JudgedRanking};
use leptos::prelude::*;
use uuid::Uuid;

/// Most waiting rankings sent at once.
#[cfg(feature = "ssr")]
const SHOWN: usize = 20;

/// Longest note on a verdict, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// The doubtful rankings waiting for a verdict, most doubtful first; reviewers are not given
/// their own.
#[server(endpoint = "review/doubtful")]
pub async fn doubtful_rankings() -> Result<DoubtQueue, ApiError> {
    use crate::review::{DoubtItem, DoubtReply};
    let user = crate::ssr::require(crate::domain::Role::Reviewer).await?;
    let store = crate::ssr::state()?.store;
    let mut queue = DoubtQueue {
        run_id: None,
        run_finished_at: None,
        accuracy: None,
        threshold: crate::reward::DOUBT_THRESHOLD,
        found: 0,
        settled: 0,
        items: vec![],
    };
    let Some(run) = store.latest_reward_run().await? else { return Ok(queue) };
    let Some(result) = run.result else { return Ok(queue) };
    queue.run_id = Some(run.id);
    queue.run_finished_at = run.finished_at;
    queue.accuracy = result.kept_head().map(|h| h.accuracy);
    queue.found = result.doubtful.len();
    let judged: std::collections::HashSet<Uuid> = store.judged_rankings().await?.into_iter().collect();
    for doubt in result.doubtful {
        if judged.contains(&doubt.ranking_id) {
            queue.settled += 1;
            continue;
        }
        if queue.items.len() >= SHOWN {
            continue;
        }
        let rankings = store.current_rankings(doubt.comparison_id).await?;
        // Re-ranked since (a newer revision), or set aside: settled.
        let Some((_, by, groups)) = rankings.iter().find(|r| r.0 == doubt.ranking_id).cloned() else {
            queue.settled += 1;
            continue;
        };
        if by == user.id {
            continue;
        }
        let Some(comparison) = store.comparison(doubt.comparison_id).await? else {
            queue.settled += 1;
            continue;
        };
        use crate::quality::places;
        let own = places(&groups);
        let theirs: Vec<_> =
            rankings.iter().filter(|r| r.0 != doubt.ranking_id).map(|r| places(&r.2)).collect();
        let mut replies: Vec<DoubtReply> = comparison
            .completions
            .iter()
            .filter_map(|c| {
                Some(DoubtReply {
                    text: c.text.clone(),
                    place: own.get(&c.id)? + 1,
                    others: theirs.iter().filter_map(|t| t.get(&c.id).map(|p| p + 1)).collect(),
                    score: doubt.scores.iter().find(|(text, _)| *text == c.text).map(|(_, s)| *s),
                })
            })
            .collect();
        replies.sort_by_key(|r| r.place);
        queue.items.push(DoubtItem { doubt, prompt: comparison.context.unwrap_or_default(), replies });
    }
    Ok(queue)
}

/// A verdict on a doubtful ranking of the latest run: `stands` or `set_aside`, with an
/// optional note. `request_id` is the verdict's id: sent twice, it is stored once; a ranking
/// gets one verdict, and a second reviewer is answered with the first's.
#[server(endpoint = "review/judge_ranking")]
pub async fn judge_ranking(
    request_id: Uuid,
    ranking_id: Uuid,
    verdict: String,
    #[server(default)] note: String,
) -> Result<JudgedRanking, ApiError> {
    use crate::error::ErrorKind;
    use crate::review::RankingVerdict;
    let user = crate::ssr::require(crate::domain::Role::Reviewer).await?;
    let verdict: RankingVerdict =
        verdict.parse().map_err(|e: String| ApiError::field(ErrorKind::Invalid, "verdict", e))?;
    let note = note.trim().to_string();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "note",
            format!("{} characters; at most {MAX_NOTE_CHARS}", note.chars().count()),
        ));
    }
    let store = crate::ssr::state()?.store;
    let not_doubtful = || {
        ApiError::field(
            ErrorKind::NotFound,
            "ranking_id",
            "not among the doubtful rankings of the latest reward-model run",
        )
    };
    let run = store.latest_reward_run().await?.ok_or_else(not_doubtful)?;
    let doubt = run
        .result
        .as_ref()
        .and_then(|r| r.doubtful.iter().find(|d| d.ranking_id == ranking_id))
        .ok_or_else(not_doubtful)?;
    let current = store.current_rankings(doubt.comparison_id).await?;
    match current.iter().find(|r| r.0 == ranking_id) {
        Some((_, by, _)) if *by == user.id => {
            return Err(ApiError::new(ErrorKind::Forbidden, "a reviewer does not judge their own ranking"));
        }
        Some(_) => {}
        // Judged already (the stored verdict answers), or re-ranked since.
        None if store.judged_rankings().await?.contains(&ranking_id) => {}
        None => {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                "the trainer has ranked this comparison again since; the ranking found doubtful no longer counts",
            ));
        }
    }
    let stored = store
        .judge_ranking(
            JudgedRanking {
                id: request_id,
                ranking_id,
                reviewer_id: user.id,
                verdict,
                note,
                created_at: crate::ssr::clock::now_rfc3339(),
            },
            run.id,
        )
        .await?;
    Ok(stored)
}

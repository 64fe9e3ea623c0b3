use crate::comparison::SubmittedRanking;
use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The trainer submits their ranking of a comparison they hold: `ranking` orders exactly the
/// shown completions, best first, tied ones in one group; or `cannot_rank` says why they
/// could not. `shown` is the order they saw; `labels` per completion and a `rationale` are
/// optional. Submitting again for a comparison they ranked stores a revision and keeps the
/// earlier one. `request_id` is the ranking's id, so a retried submit stores one.
#[server(endpoint = "rank/submit", input = Json)]
pub async fn submit_ranking(
    request_id: Uuid,
    comparison_id: Uuid,
    #[server(default)] ranking: Vec<Vec<Uuid>>,
    shown: Vec<Uuid>,
    #[server(default)] labels: BTreeMap<Uuid, Vec<String>>,
    #[server(default)] rationale: String,
    #[server(default)] cannot_rank: Option<String>,
) -> Result<SubmittedRanking, ApiError> {
    use crate::comparison::LABELS;
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::ranking::Ranking;
    use crate::ssr::clock::now_rfc3339;
    use crate::ssr::{NewRanking, require, state};
    let user = require(Role::Trainer).await?;
    let state = state()?;
    let invalid = |field: &str, message: String| ApiError::field(ErrorKind::Invalid, field, message);
    let comparison = state
        .store
        .comparison(comparison_id)
        .await?
        .filter(|c| c.status == "ready")
        .ok_or_else(|| ApiError::field(ErrorKind::NotFound, "comparison_id", "comparison not found"))?;
    let ids: Vec<Uuid> = comparison.completions.iter().map(|c| c.id).collect();
    let mut sorted_shown = shown.clone();
    sorted_shown.sort();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    if sorted_shown != sorted_ids {
        return Err(invalid(
            "shown",
            "the shown order must list each completion of this comparison once".into(),
        ));
    }
    let (ranking, cannot_rank) = match cannot_rank.map(|r| r.trim().to_string()) {
        Some(reason) => {
            if reason.is_empty() {
                return Err(invalid("cannot_rank", "say why these cannot be ranked".into()));
            }
            if reason.len() > super::MAX_REASON_BYTES || reason.contains('\0') {
                return Err(invalid(
                    "cannot_rank",
                    format!("the reason must be plain text of at most {} bytes", super::MAX_REASON_BYTES),
                ));
            }
            (None, Some(reason))
        }
        None => {
            let ranking = Ranking { groups: ranking };
            ranking.check(&ids).map_err(|err| invalid("ranking", err.to_string()))?;
            (Some(ranking), None)
        }
    };
    for (completion, names) in &labels {
        if !ids.contains(completion) {
            return Err(invalid(
                "labels",
                format!("completion {completion} was not shown in this comparison"),
            ));
        }
        if let Some(unknown) = names.iter().find(|n| !LABELS.contains(&n.as_str())) {
            return Err(invalid(
                "labels",
                format!("unknown label {unknown:?}; labels are {}", LABELS.join(", ")),
            ));
        }
    }
    super::super::conversations::access::check_size("rationale", "a rationale", &rationale)?;
    let labels = labels
        .into_iter()
        .map(|(id, mut names)| {
            names.sort();
            names.dedup();
            (id, names)
        })
        .filter(|(_, names)| !names.is_empty())
        .collect();
    let new = NewRanking {
        id: request_id,
        comparison_id,
        ranked_by: user.id,
        ranking,
        cannot_rank,
        shown_order: shown,
        labels,
        rationale: rationale.trim().to_string(),
    };
    let stored = state.store.submit_ranking(new, &now_rfc3339()).await.map_err(super::lease_gone)?;
    // The board is submitted: its draft is done with.
    state.store.delete_rank_draft(comparison_id, user.id).await?;
    Ok(stored)
}

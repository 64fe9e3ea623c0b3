use crate::comparison::{RankProgress, RankedItem};
use crate::error::ApiError;
use leptos::prelude::*;

/// The caller's figures (ranked today, queue left) and their latest rankings to revise.
#[server(endpoint = "rank/mine")]
pub async fn my_rankings() -> Result<(RankProgress, Vec<RankedItem>), ApiError> {
    use crate::domain::Role;
    use crate::ssr::clock::{now_rfc3339, today_start};
    use crate::ssr::{require, state};
    let user = require(Role::Trainer).await?;
    let store = state()?.store;
    let progress = store.rank_progress(user.id, &today_start(), &now_rfc3339()).await?;
    Ok((progress, store.recent_rankings(user.id, 20).await?))
}

//! Comparisons: admins create batches that the background sampler fills; trainers rank
//! the K completions of one comparison at a time, under a lease, and may revise their own
//! rankings later.

mod create_batch;
mod list_batches;
mod my_rankings;
mod rank_task;
mod save_draft;
mod skip_comparison;
mod submit_ranking;

pub use create_batch::*;
pub use list_batches::*;
pub use my_rankings::*;
pub use rank_task::*;
pub use save_draft::*;
pub use skip_comparison::*;
pub use submit_ranking::*;

/// Most bytes of a reason for not ranking.
pub const MAX_REASON_BYTES: usize = 1000;

/// What a trainer is told when their lease ended before they submitted.
#[cfg(feature = "ssr")]
pub(crate) fn lease_gone(err: crate::ssr::StoreError) -> crate::error::ApiError {
    use crate::error::{ApiError, ErrorKind};
    match err {
        crate::ssr::StoreError::NotFound("lease") => ApiError::field(
            ErrorKind::Conflict,
            "comparison_id",
            "you do not hold this comparison: your lease expired (it went back to the queue) or it was \
             never given to you; ask for the next one",
        ),
        other => other.into(),
    }
}

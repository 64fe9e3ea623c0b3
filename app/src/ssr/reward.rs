//! The port the server's reward-model training implements: runs started from the Admin ->
//! Reward model page, trained in the background, stored so any instance lists them.

use crate::error::ApiError;
use crate::reward::{RewardOptions, RewardRun};
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
pub trait RewardTrainer: Send + Sync {
    /// Starts a run in the background, or answers the run stored under this id (a retried
    /// or double-clicked start makes one run).
    async fn start(&self, id: Uuid, by: Uuid, options: RewardOptions) -> Result<RewardRun, ApiError>;
    /// The runs, newest first.
    async fn runs(&self) -> Result<Vec<RewardRun>, ApiError>;
    /// Asks a running run to stop; it stops at its next step. A finished run stays as it is.
    async fn cancel(&self, id: Uuid) -> Result<RewardRun, ApiError>;
    /// Why the head of finished run `run` cannot score replies on this server, if it cannot
    /// (its files are missing, or it read another base model than the one here).
    async fn unable_to_score(&self, run: Uuid) -> Option<String>;
    /// How unsure run `run`'s head is of the order of `replies` to `context`
    /// (`comparison::uncertainty` of its scores).
    async fn uncertainty(
        &self,
        run: Uuid,
        context: Vec<crate::model::ChatMessage>,
        replies: Vec<String>,
    ) -> Result<f64, String>;
}

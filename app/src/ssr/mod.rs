//! Server-only code of the app: the ports that adapters in `server/` implement, and the
//! helpers every server function uses to find the caller and answer with the right status.

pub mod clock;
pub mod content_filter;
pub mod figures;
pub mod model;
pub mod moderation;
mod passwords;
pub mod reward;
mod session;
mod store;

pub use passwords::{dummy_hash, give_one_time_password, hash_password, verify_password};
pub use session::{
    SESSION_COOKIE, SESSION_DAYS, caller, clear_session_cookie, random_token, request_token, require,
    session_user, set_session_cookie, token_from_cookie_header, token_hash,
};
pub use store::{
    ConversationRevision, FilterDecision, Lease, LoginAttempt, LoginGate, NewComparison, NewComparisonBatch,
    NewConversation, NewMessage, NewRanking, NewReview, NewSuggestions, NewUser, PendingComparison,
    SessionRecord, Store, StoreError, StoredComparison, StoredUser, Submission,
};

use crate::error::{ApiError, ErrorKind};
use leptos::prelude::*;
use std::sync::Arc;

/// What the server hands every server function through Leptos context.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The models that write suggestions and alternatives (none when none is configured).
    pub models: Arc<model::ModelSet>,
    /// Mark the session cookie `Secure` (set when Parley is served over HTTPS).
    pub secure_cookies: bool,
    /// The header a trusted reverse proxy sets to the client's address; `None` when Parley
    /// is reached directly (the peer address counts, and such headers are ignored).
    pub client_ip_header: Option<http::HeaderName>,
    pub limits: crate::domain::Limits,
    /// Wakes the background sampler when a batch of comparisons is created.
    pub comparison_work: Arc<tokio::sync::Notify>,
    pub filter: Arc<content_filter::FilterState>,
    /// The quality figures, kept a while once computed.
    pub figures: Arc<figures::FigureCache>,
    /// Where the style sheet is served: its name carries a hash of its content
    /// (scripts/build.sh), so browsers may keep it for good.
    pub style_href: Arc<str>,
    /// Trains reward models on the model file Parley serves (none with a remote engine).
    pub reward: Option<Arc<dyn reward::RewardTrainer>>,
}

pub fn state() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server-function context");
        ApiError::internal()
    })
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::DuplicateEmail => {
                ApiError::field(ErrorKind::Conflict, "email", "an account with this e-mail already exists")
            }
            StoreError::AlreadySetUp => {
                ApiError::new(ErrorKind::Conflict, "Parley already has an admin; sign in instead")
            }
            StoreError::NotFound(what) => ApiError::new(ErrorKind::NotFound, format!("{what} not found")),
            StoreError::AlreadyMade(what) => {
                ApiError::new(ErrorKind::Conflict, format!("this {what} was made already"))
            }
            StoreError::Stale(what) => ApiError::new(
                ErrorKind::Conflict,
                format!("this {what} changed since you opened it; open it again to see the new version"),
            ),
            StoreError::Conflict { field, message } => ApiError::field(ErrorKind::Conflict, field, message),
            StoreError::Backend(detail) => {
                tracing::error!(%detail, "store failure");
                ApiError::internal()
            }
        }
    }
}

//! Argon2id password hashes. Hashing is deliberately slow, so it runs on the blocking pool,
//! never on the async executor, and only a few at once: each takes ~19 MiB and a core, so
//! 50 sign-ins at once queue here instead of taking a gigabyte and every core.

use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes running at once: the cores, between 1 and 4.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores.clamp(1, 4))
    })
}

async fn hashing_turn() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    hashing_permits().acquire().await.map_err(|_| ApiError::internal())
}

pub async fn hash_password(password: String) -> Result<String, ApiError> {
    let _turn = hashing_turn().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string())
    })
    .await
    .map_err(|err| {
        tracing::error!(%err, "password hashing task failed");
        ApiError::internal()
    })?
    .map_err(|err| {
        tracing::error!(%err, "password hashing failed");
        ApiError::internal()
    })
}

/// Whether `password` matches `stored`. A malformed stored hash counts as no match.
pub async fn verify_password(password: String, stored: String) -> Result<bool, ApiError> {
    let _turn = hashing_turn().await?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
            .unwrap_or(false)
    })
    .await
    .map_err(|err| {
        tracing::error!(%err, "password check task failed");
        ApiError::internal()
    })
}

/// Gives an account a new one-time password, made up here and returned to be shown once: its
/// sessions end, and once signed in with it the account must choose its own.
pub async fn give_one_time_password(
    store: &dyn super::Store,
    user_id: uuid::Uuid,
) -> Result<crate::api::users::OneTimePassword, ApiError> {
    let password = super::random_token();
    let hash = hash_password(password.clone()).await?;
    let user = store.set_password(user_id, &hash, true, None).await?;
    Ok(crate::api::users::OneTimePassword { email: user.email, password })
}

/// A real hash of a throwaway password, made once, to check against when an account does
/// not exist: the reply then takes as long as for a wrong password.
pub async fn dummy_hash() -> Result<String, ApiError> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY.get_or_try_init(|| hash_password("parley-no-such-account".to_string())).await.cloned()
}

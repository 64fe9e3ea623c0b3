use crate::error::ApiError;
use leptos::prelude::*;

/// Failed sign-ins allowed per e-mail within the window before further tries are refused.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed sign-ins allowed per client address within the window.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;

/// Signs in with e-mail and password; sets the session cookie and goes to `next` (a local
/// path) or home.
#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), ApiError> {
    use crate::ssr::{state, verify_password};
    use crate::validate::check_email;

    let state = state()?;
    let email = check_email(&email)?;
    if password.chars().count() > crate::validate::PASSWORD_MAX_CHARS {
        return Err(crate::validate::password_problem(&password, &email).unwrap_or_else(ApiError::internal));
    }
    let keys = [format!("email:{email}"), format!("address:{}", client_address())];
    let limits = [MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_ADDRESS];
    for (key, limit) in keys.iter().zip(limits) {
        refuse_when_over_limit(&state, key, limit).await?;
    }
    let stored = state.store.user_by_email(&email).await?;
    // Verify against a throwaway hash when the account does not exist, so the reply
    // takes as long and says the same for unknown e-mails as for wrong passwords.
    let (hash, user) = match stored {
        Some(stored) => (stored.password_hash, Some(stored.user)),
        None => (crate::ssr::dummy_hash().await?, None),
    };
    let matches = verify_password(password, hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        let now = crate::ssr::clock::now_rfc3339();
        for key in &keys {
            state.store.record_login_failure(key, &now).await?;
        }
        return Err(ApiError::new(crate::error::ErrorKind::BadCredentials, "wrong e-mail or password"));
    };
    state.store.clear_login_failures(&keys[0]).await?;
    start_session(&state, &user).await?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Only local paths are followed after sign-in, so a crafted link cannot send a user away.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(feature = "ssr")]
fn client_address() -> String {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(feature = "ssr")]
async fn refuse_when_over_limit(state: &crate::ssr::AppState, key: &str, limit: i64) -> Result<(), ApiError> {
    use crate::ssr::clock::{rfc3339_in, seconds_until};
    let (failures, oldest) = state.store.login_failures_since(key, &rfc3339_in(-FAILURE_WINDOW_SECS)).await?;
    if failures < limit {
        return Ok(());
    }
    let retry_after_secs = oldest
        .as_deref()
        .and_then(seconds_until)
        .map_or(FAILURE_WINDOW_SECS, |age| age + FAILURE_WINDOW_SECS)
        .max(1) as u64;
    Err(ApiError {
        retry_after_secs: Some(retry_after_secs),
        ..ApiError::new(
            crate::error::ErrorKind::RateLimited,
            format!("too many failed sign-ins; try again in {} minutes", retry_after_secs.div_ceil(60)),
        )
    })
}

#[cfg(feature = "ssr")]
pub(crate) async fn start_session(
    state: &crate::ssr::AppState,
    user: &crate::domain::User,
) -> Result<(), ApiError> {
    use crate::ssr::{SESSION_DAYS, SessionRecord, clock, random_token, set_session_cookie, token_hash};
    let token = random_token();
    state
        .store
        .create_session(SessionRecord {
            token_hash: token_hash(&token),
            user_id: user.id,
            expires_at: clock::rfc3339_in(SESSION_DAYS * 24 * 3600),
        })
        .await?;
    set_session_cookie(state, &token);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_followed_only_within_the_site() {
        assert_eq!(safe_next(Some("/admin")), "/admin");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}

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
    use crate::ssr::clock::{now_rfc3339, rfc3339_in};
    use crate::ssr::{LoginAttempt, LoginGate, state, verify_password};
    use crate::validate::check_email;

    let state = state()?;
    let email = check_email(&email)?;
    if password.chars().count() > crate::validate::PASSWORD_MAX_CHARS {
        return Err(crate::validate::password_problem(&password, &email).unwrap_or_else(ApiError::internal));
    }
    let gate = LoginGate {
        account_key: format!("email:{email}"),
        address_key: format!("address:{}", client_address(&state)),
        account_limit: MAX_FAILURES_PER_EMAIL,
        address_limit: MAX_FAILURES_PER_ADDRESS,
        since: rfc3339_in(-FAILURE_WINDOW_SECS),
        now: now_rfc3339(),
    };
    // Counted before the slow hash, in one locked step: parallel tries cannot all pass.
    if let LoginAttempt::Refused { oldest } = state.store.begin_login_attempt(&gate).await? {
        return Err(rate_limited(oldest.as_deref()));
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
        // The account's failure was stored by the gate; the address's is stored now.
        state.store.record_login_failure(&gate.address_key, &now_rfc3339()).await?;
        return Err(ApiError::new(crate::error::ErrorKind::BadCredentials, "wrong e-mail or password"));
    };
    state.store.clear_login_failures(&gate.account_key).await?;
    // Said only to someone who knows the password.
    if user.deactivated_at.is_some() {
        return Err(ApiError::new(
            crate::error::ErrorKind::Forbidden,
            "this account is deactivated; ask an admin to reactivate it",
        ));
    }
    start_session(&state, &user).await?;
    // A one-time password is replaced first.
    let next = if user.must_change_password { "/account".to_string() } else { safe_next(next.as_deref()) };
    leptos_axum::redirect(&next);
    Ok(())
}

/// Only paths of this site are followed after sign-in, so a crafted link cannot send a user
/// away: one leading `/`, no `\` at all and no second `/` right after it (a browser reads
/// `//host` and `/\host` as another site), and no control, space or invisible characters
/// anywhere (browsers drop tabs and newlines, so `/<tab>/evil.example` is `//evil.example`).
pub fn safe_next(next: Option<&str>) -> String {
    let Some(path) = next else { return "/".to_string() };
    let local = path.starts_with('/')
        && !matches!(path.as_bytes().get(1), Some(b'/' | b'\\'))
        && !path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && !path.chars().any(|c| matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{feff}'));
    if local { path.to_string() } else { "/".to_string() }
}

/// The caller's address: the peer's, or behind a configured proxy the one it reports. For
/// `X-Forwarded-For` the last entry counts: the trusted proxy appended it, while entries
/// before it came from the client and may be forged.
#[cfg(feature = "ssr")]
fn client_address(state: &crate::ssr::AppState) -> String {
    use axum::extract::ConnectInfo;
    use std::net::{IpAddr, SocketAddr};
    let parts = use_context::<http::request::Parts>();
    let peer = parts
        .as_ref()
        .and_then(|parts| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
        .map(|ip| ip.to_string());
    let forwarded = state.client_ip_header.as_ref().and_then(|header| {
        let values = parts.as_ref()?.headers.get_all(header);
        let last = values.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).last()?;
        last.trim().parse::<IpAddr>().ok().map(|ip| ip.to_string())
    });
    forwarded.or(peer).unwrap_or_else(|| "unknown".into())
}

#[cfg(feature = "ssr")]
fn rate_limited(oldest: Option<&str>) -> ApiError {
    use crate::ssr::clock::seconds_until;
    let retry_after_secs =
        oldest.and_then(seconds_until).map_or(FAILURE_WINDOW_SECS, |age| age + FAILURE_WINDOW_SECS).max(1)
            as u64;
    ApiError {
        retry_after_secs: Some(retry_after_secs),
        ..ApiError::new(
            crate::error::ErrorKind::RateLimited,
            format!("too many failed sign-ins; try again in {} minutes", retry_after_secs.div_ceil(60)),
        )
    }
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
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/ /evil.example")), "/");
        assert_eq!(safe_next(Some("/\u{200b}/evil.example")), "/");
        assert_eq!(safe_next(Some("evil.example")), "/");
        assert_eq!(safe_next(Some("/rank?batch=1#top")), "/rank?batch=1#top");
    }
}

//! Server-side sessions: the browser holds a random token in an HttpOnly cookie; the
//! database holds only its SHA-256, so a leaked database cannot be replayed as cookies.

use super::{AppState, Store, StoreError, state};
use crate::domain::{Role, User};
use crate::error::{ApiError, ErrorKind};
use base64::Engine;
use http::HeaderValue;
use http::header::{COOKIE, SET_COOKIE};
use leptos::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "parley_session";
pub const SESSION_DAYS: i64 = 14;

/// 32 random bytes, URL-safe: session tokens, API key secrets, made-up passwords.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session token in a `Cookie` header, if any.
pub fn token_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

fn cookie(state: &AppState, value: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

pub fn set_session_cookie(state: &AppState, token: &str) {
    if let (Some(options), Some(value)) =
        (use_context::<leptos_axum::ResponseOptions>(), cookie(state, token, SESSION_DAYS * 24 * 3600))
    {
        options.append_header(SET_COOKIE, value);
    }
}

pub fn clear_session_cookie(state: &AppState) {
    if let (Some(options), Some(value)) =
        (use_context::<leptos_axum::ResponseOptions>(), cookie(state, "", 0))
    {
        options.append_header(SET_COOKIE, value);
    }
}

/// The session token in request headers, if any.
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(token_from_cookie_header)
        .map(str::to_string)
}

/// The session token the current request carries.
pub fn request_token() -> Option<String> {
    token_from_headers(&use_context::<http::request::Parts>()?.headers)
}

/// The user whose unexpired session the headers carry. For axum routes outside the server
/// functions (the page guard, streams).
pub async fn session_user(store: &dyn Store, headers: &http::HeaderMap) -> Result<Option<User>, StoreError> {
    match token_from_headers(headers) {
        Some(token) => store.session_user(&token_hash(&token), &super::clock::now_rfc3339()).await,
        None => Ok(None),
    }
}

/// The signed-in user, or `None` for an anonymous caller.
pub async fn caller() -> Result<Option<User>, ApiError> {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Ok(None);
    };
    Ok(session_user(state()?.store.as_ref(), &parts.headers).await?)
}

/// The signed-in user if their role allows `needed`: 401 when nobody is signed in,
/// 403 when the role falls short.
pub async fn require(needed: Role) -> Result<User, ApiError> {
    let user = caller().await?.ok_or_else(ApiError::unauthenticated)?;
    if user.must_change_password {
        return Err(ApiError::field(
            ErrorKind::Forbidden,
            "password",
            "your password was set by an admin for one use: choose your own on the Account page first",
        ));
    }
    if user.role.allows(needed) {
        Ok(user)
    } else {
        Err(ApiError::new(
            ErrorKind::Forbidden,
            format!("this needs the {needed} role; you are signed in as {}", user.role),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_token_among_other_cookies() {
        let header = format!("theme=dark; {SESSION_COOKIE}=abc123; other=1");
        assert_eq!(token_from_cookie_header(&header), Some("abc123"));
        assert_eq!(token_from_cookie_header("theme=dark"), None);
        assert_eq!(token_from_cookie_header(&format!("{SESSION_COOKIE}=")), None);
    }

    #[test]
    fn tokens_are_unique_and_only_their_hash_is_kept() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}

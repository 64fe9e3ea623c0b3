//! Page guard: before a page of an area renders, the caller must be signed in with a role
//! that the area allows. Anonymous visitors are sent to sign in (or, on a fresh install, to
//! create the first admin); a signed-in user with too small a role gets 403.
//! Server functions check roles themselves; this guards the server-rendered pages.

use app::domain::{Role, area_for_path};
use app::ssr::{AppState, session_user};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{Method, StatusCode};

pub async fn page_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let needs = match area_for_path(path) {
        Some(area) => area.needs,
        None if path == "/" || path == "/leaderboard" || path == "/account" => Role::Trainer,
        None => return next.run(request).await,
    };
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    match session_user(state.store.as_ref(), request.headers()).await {
        // A one-time password is replaced before any other page.
        Ok(Some(user)) if user.must_change_password && path != "/account" => {
            Redirect::to("/account").into_response()
        }
        Ok(Some(user)) if user.role.allows(needs) => next.run(request).await,
        Ok(Some(user)) => forbidden(needs, user.role, &state.style_href),
        Ok(None) => match state.store.user_count().await {
            Ok(0) => Redirect::to("/setup").into_response(),
            Ok(_) => Redirect::to(&format!("/login?next={}", encode_path(path))).into_response(),
            Err(err) => failure(err),
        },
        Err(err) => failure(err),
    }
}

fn forbidden(needs: Role, has: Role, style_href: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed · Parley</title>\
         <link rel=\"stylesheet\" href=\"{style_href}\"></head><body><main><section class=\"card\">\
         <h1>Not allowed</h1><p>This page needs the {needs} role; you are signed in as {has}.</p>\
         <p><a href=\"/\">Back to the start page</a></p></section></main></body></html>"
    );
    (StatusCode::FORBIDDEN, Html(page)).into_response()
}

fn failure(err: app::ssr::StoreError) -> Response {
    tracing::error!(%err, "page guard could not read the session");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error; the server log has the details").into_response()
}

/// Percent-encodes the few characters of a path that matter inside a query value.
fn encode_path(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            '%' | '&' | '?' | '#' | '+' | ' ' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

//! Request bodies over the limit are refused with 413 and a JSON error, never cut short.
//! axum's `DefaultBodyLimit` only binds axum's own extractors; server functions read the
//! raw body, so the limit is enforced here for every route.

use app::error::{ApiError, ErrorKind};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_LENGTH;

/// Largest request body accepted; bigger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The one route that takes more: a dataset upload, up to the import limit.
const IMPORT_ROUTE: &str = "/api/datasets/import";

pub async fn limit_body(State(import_limit): State<usize>, request: Request, next: Next) -> Response {
    let limit = if request.uri().path() == IMPORT_ROUTE { import_limit } else { MAX_BODY_BYTES };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|bytes| bytes > limit as u64) {
        let error =
            ApiError::new(ErrorKind::TooLarge, format!("request body is larger than {} KiB", limit / 1024));
        return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(error)).into_response();
    }
    // A body without a declared length is cut off at the limit: reading past it fails,
    // so an oversized upload is never half-accepted.
    let (parts, body) = request.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, limited)).await
}

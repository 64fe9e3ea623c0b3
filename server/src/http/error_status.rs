//! Server functions answer every error with 500 and the error as JSON. This layer reads the
//! error's kind and gives the reply its real status (401, 403, 422, 429, ...), in one place
//! for all of them, including argument errors raised before a function body runs.

use app::error::ApiError;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header::RETRY_AFTER};

/// Server-function errors are small; anything bigger is passed through untouched.
const MAX_ERROR_BYTES: usize = 64 * 1024;

pub async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_server_fn_error = response.headers().contains_key(server_fn::error::SERVER_FN_ERROR_HEADER);
    if !is_server_fn_error || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status = StatusCode::from_u16(error.kind.status()).unwrap_or(parts.status);
        if let Some(secs) = error.retry_after_secs {
            parts.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        parts.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Response::from_parts(parts, Body::from(bytes))
}

//! Errors of the plain HTTP routes, in the same JSON shape and with the same statuses as the
//! server functions' (`app::error::ApiError`).

use app::error::{ApiError, ErrorKind};
use app::ssr::model::ModelError;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};

pub fn error(err: ApiError) -> Response {
    let status = StatusCode::from_u16(err.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = err.retry_after_secs;
    let mut response = (status, Json(err)).into_response();
    if let Some(secs) = retry_after {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A model that cannot take a request, as the error the caller is shown.
pub fn model_error(err: ModelError) -> ApiError {
    match err {
        ModelError::Busy { retry_after_secs } => ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..ApiError::new(ErrorKind::RateLimited, "the model is busy; try again in a few seconds")
        },
        ModelError::Invalid { field, message } => ApiError::field(ErrorKind::Invalid, field, message),
        ModelError::Unavailable => ApiError::new(ErrorKind::Unavailable, "no model is loaded"),
        ModelError::Failed(message) => ApiError::new(ErrorKind::Unavailable, message),
    }
}

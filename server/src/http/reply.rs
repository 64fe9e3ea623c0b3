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

/// The signed-in caller of a plain route, if their role allows `needed`: otherwise the
/// 401 or 403 to answer.
pub async fn caller(
    state: &app::ssr::AppState,
    headers: &http::HeaderMap,
    needed: app::domain::Role,
) -> Result<app::domain::User, Response> {
    match app::ssr::session_user(state.store.as_ref(), headers).await {
        Ok(Some(user)) if user.role.allows(needed) => Ok(user),
        Ok(Some(_)) => Err(error(ApiError::new(
            ErrorKind::Forbidden,
            format!("this needs the {} role", needed.as_str()),
        ))),
        Ok(None) => Err(error(ApiError::unauthenticated())),
        Err(err) => Err(error(err.into())),
    }
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

/// A query string read into `T`, or 422 in the JSON shape of every other error, naming what
/// failed (axum's own `Query` answers a plain-text 400).
pub struct JsonQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for JsonQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(JsonQuery(value)),
            Err(rejection) => {
                let detail = rejection.body_text();
                let message = detail.strip_prefix("Failed to deserialize query string: ").unwrap_or(&detail);
                let field = message.split('`').nth(1).filter(|f| !f.contains(' ')).unwrap_or("query");
                Err(error(ApiError::field(ErrorKind::Invalid, field, format!("query string: {message}"))))
            }
        }
    }
}

//! The one error type of the server-function layer. It crosses the wire as JSON
//! (`{"error": "<kind>", "message": "...", "field": "..."}`), so the UI can tell the kinds
//! apart without parsing messages, and HTTP clients get a status that matches the kind.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// What went wrong, as the caller needs to tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 401: no valid session; sign in first.
    Unauthenticated,
    /// 401: the e-mail and password do not match an account.
    BadCredentials,
    /// 403: signed in, but the role does not allow this.
    Forbidden,
    /// 422: a field failed validation; `field` names it.
    Invalid,
    /// 413: a field or body is larger than allowed; `field` names it.
    TooLarge,
    /// 409: the request clashes with what is stored (a taken e-mail, setup already done).
    Conflict,
    /// 404: the thing asked for does not exist.
    NotFound,
    /// 429: too many attempts; `retry_after_secs` says when to try again.
    RateLimited,
    /// 400: the request itself could not be read (missing or malformed arguments).
    BadRequest,
    /// 503: no model is loaded, or it failed; the work typed so far is kept.
    Unavailable,
    /// 500: a fault on the server; the details are in the server log, never in the reply.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Unauthenticated | ErrorKind::BadCredentials => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::Invalid => 422,
            ErrorKind::TooLarge => 413,
            ErrorKind::Conflict => 409,
            ErrorKind::NotFound => 404,
            ErrorKind::RateLimited => 429,
            ErrorKind::BadRequest => 400,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    #[serde(rename = "error")]
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError { kind, message: message.into(), field: None, retry_after_secs: None }
    }

    /// An error about one named field of the request.
    pub fn field(kind: ErrorKind, field: &str, message: impl Into<String>) -> Self {
        ApiError { field: Some(field.to_string()), ..ApiError::new(kind, message) }
    }

    pub fn unauthenticated() -> Self {
        ApiError::new(ErrorKind::Unauthenticated, "sign in first")
    }

    pub fn internal() -> Self {
        ApiError::new(ErrorKind::Internal, "internal error; the server log has the details")
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::new(ErrorKind::BadRequest, value.to_string())
    }
}

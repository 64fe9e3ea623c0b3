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
        return too_large(limit);
    }
    // A body without a declared length is cut off at the limit: reading past it fails,
    // so an oversized upload is never half-accepted.
    let (parts, body) = request.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, limit));
    let form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form || parts.uri.path() == IMPORT_ROUTE {
        return next.run(Request::from_parts(parts, limited)).await;
    }
    // A form (every server function's body) is read here, within the limit, and each field
    // checked before anything decodes it: the decoder would turn invalid UTF-8 into U+FFFD
    // silently, and PostgreSQL cannot store a NUL.
    let Ok(bytes) = axum::body::to_bytes(limited, limit).await else { return too_large(limit) };
    if let Err(error) = check_form(&bytes) {
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(error)).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn too_large(limit: usize) -> Response {
    let error =
        ApiError::new(ErrorKind::TooLarge, format!("request body is larger than {} KiB", limit / 1024));
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(error)).into_response()
}

/// Refuses a form field (name or value) that is not UTF-8 once percent-decoded, or that
/// holds a NUL, naming the field.
fn check_form(body: &[u8]) -> Result<(), ApiError> {
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let decode = |raw: &[u8]| -> Vec<u8> {
            let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
            percent_encoding::percent_decode(&spaced).collect()
        };
        let name_bytes = decode(name);
        let field = String::from_utf8_lossy(&name_bytes).into_owned();
        let value = decode(value);
        let text = match (std::str::from_utf8(&name_bytes), std::str::from_utf8(&value)) {
            (Ok(_), Ok(text)) => text,
            _ => {
                let message = format!("{field} is not valid UTF-8 text");
                return Err(ApiError::field(ErrorKind::Invalid, &field, message));
            }
        };
        if text.contains('\0') || field.contains('\0') {
            let message = format!("{field} cannot contain a NUL character");
            return Err(ApiError::field(ErrorKind::Invalid, &field, message));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_form;

    #[test]
    fn forms_are_checked_field_by_field() {
        assert!(check_form(b"name=caf%C3%A9&b=x+y").is_ok());
        let bad = check_form(b"name=ok&text=%FF%FE").unwrap_err();
        assert_eq!(bad.field.as_deref(), Some("text"));
        let nul = check_form(b"search=a%00b").unwrap_err();
        assert_eq!(nul.field.as_deref(), Some("search"));
        assert!(check_form(b"").is_ok());
    }
}

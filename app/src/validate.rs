//! Field rules shared by the browser (live hints) and the server (the authority).

use crate::error::{ApiError, ErrorKind};

pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Passwords that meet the length rule but are guessed first by every attacker.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "0123456789",
    "password12",
    "password123",
    "password1234",
    "qwertyuiop",
    "1q2w3e4r5t",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "administrator",
    "passw0rd12",
    "trustno1234",
    "abcdefghij",
    "0987654321",
    "1111111111",
    "qwerty1234",
    "changeme12",
];

/// Characters that show as nothing: zero-width spaces and joiners, direction marks and
/// overrides, the soft hyphen, the byte-order mark. A text made only of them (and spaces)
/// is empty; an e-mail or a name holding one is refused.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}')
}

/// Whether a text has nothing to read: only spaces and invisible characters.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// The stored form of an e-mail: trimmed, lower-cased, and on the server in Unicode
/// compatibility form (NFKC), so `ａ@x.org` (full-width) is `a@x.org`.
fn fold_email(raw: &str) -> String {
    #[cfg(feature = "ssr")]
    {
        use unicode_normalization::UnicodeNormalization;
        raw.trim().nfkc().collect::<String>().to_lowercase()
    }
    #[cfg(not(feature = "ssr"))]
    {
        raw.trim().to_lowercase()
    }
}

/// Checks an e-mail address and returns it in the form it is stored in (see `fold_email`).
/// Invisible characters are refused: `a\u{200b}@x.org` would be a second account that reads
/// the same as `a@x.org`.
pub fn check_email(raw: &str) -> Result<String, ApiError> {
    let email = fold_email(raw);
    let invalid = |message: &str| ApiError::field(ErrorKind::Invalid, "email", message);
    if email.chars().any(is_invisible) {
        return Err(invalid(
            "e-mail must not contain invisible characters (zero-width spaces, direction marks)",
        ));
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err(ApiError::field(
            ErrorKind::TooLarge,
            "email",
            format!("e-mail is longer than {EMAIL_MAX_CHARS} characters"),
        ));
    }
    if email.is_empty() {
        return Err(invalid("e-mail is required"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid("e-mail must contain an @"));
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(invalid("e-mail must look like name@example.org"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("e-mail must not contain spaces"));
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(invalid("e-mail domain must look like example.org"));
    }
    Ok(email)
}

/// Why a password is too weak or too long, or `None` when it is acceptable.
pub fn password_problem(password: &str, email: &str) -> Option<ApiError> {
    let chars = password.chars().count();
    let problem = |kind, message: String| Some(ApiError::field(kind, "password", message));
    if chars > PASSWORD_MAX_CHARS {
        return problem(
            ErrorKind::TooLarge,
            format!("password is longer than {PASSWORD_MAX_CHARS} characters"),
        );
    }
    if chars < PASSWORD_MIN_CHARS {
        return problem(
            ErrorKind::Invalid,
            format!("password needs at least {PASSWORD_MIN_CHARS} characters ({chars} so far)"),
        );
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return problem(ErrorKind::Invalid, "password is one of the most common; pick another".into());
    }
    let first = lower.chars().next();
    if lower.chars().all(|c| Some(c) == first) {
        return problem(ErrorKind::Invalid, "password must not repeat one character".into());
    }
    let local = email.trim().to_lowercase();
    let local = local.split('@').next().unwrap_or_default();
    if local.len() >= 3 && lower.contains(local) {
        return problem(ErrorKind::Invalid, "password must not contain your e-mail name".into());
    }
    None
}

pub fn check_password(password: &str, email: &str) -> Result<(), ApiError> {
    password_problem(password, email).map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_emails_are_refused_or_folded() {
        assert!(check_email("a\u{200b}@x.org").is_err(), "zero-width space");
        assert!(check_email("a@x\u{202e}.org").is_err(), "direction override");
        #[cfg(feature = "ssr")]
        assert_eq!(check_email("ａ@x.org").unwrap(), "a@x.org", "full-width folds to ASCII");
        assert!(is_blank("\u{200b}\u{200b} \u{feff}"));
        assert!(!is_blank("\u{200b}a"));
    }

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(check_email("  Ada@Example.ORG ").unwrap(), "ada@example.org");
    }

    #[test]
    fn malformed_emails_name_the_field() {
        for bad in ["", "ada", "ada@", "@example.org", "a b@example.org", "ada@example", "a@b@c.org"] {
            let err = check_email(bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("email"), "{bad:?}");
            assert_eq!(err.kind, ErrorKind::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn oversized_email_is_refused_not_truncated() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(check_email(&long).unwrap_err().kind, ErrorKind::TooLarge);
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        let email = "ada@example.org";
        assert!(password_problem("short", email).unwrap().message.contains("at least 10"));
        assert!(password_problem("Password123", email).unwrap().message.contains("common"));
        assert!(password_problem("aaaaaaaaaaaa", email).unwrap().message.contains("repeat"));
        assert!(password_problem("ada-is-great", email).unwrap().message.contains("e-mail"));
        assert_eq!(password_problem(&"x1".repeat(200), email).unwrap().kind, ErrorKind::TooLarge);
        assert_eq!(password_problem("correct horse battery", email), None);
    }
}

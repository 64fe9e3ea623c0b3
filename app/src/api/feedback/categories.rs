use crate::error::ApiError;
use leptos::prelude::*;

/// The feedback categories people choose from.
#[server(endpoint = "feedback/categories")]
pub async fn feedback_categories() -> Result<Vec<String>, ApiError> {
    use crate::domain::Role;
    use crate::ssr::require;
    require(Role::Trainer).await?;
    super::categories_in_use().await
}

/// An admin sets the feedback categories: one a line, in the order shown. Feedback already
/// given keeps the names it was given with.
#[server(endpoint = "feedback/set_categories")]
pub async fn set_feedback_categories(#[server(default)] categories: String) -> Result<Vec<String>, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    use crate::feedback::{MAX_CATEGORIES, MAX_CATEGORY_CHARS};
    use crate::ssr::{require, state};
    require(Role::Admin).await?;
    let mut names: Vec<String> = vec![];
    for (i, line) in categories.lines().enumerate() {
        let name = line.trim().to_lowercase();
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > MAX_CATEGORY_CHARS || name.chars().any(|c| c.is_control()) {
            return Err(ApiError::field(
                ErrorKind::Invalid,
                "categories",
                format!(
                    "line {}: a category is plain text of at most {MAX_CATEGORY_CHARS} characters",
                    i + 1
                ),
            ));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() || names.len() > MAX_CATEGORIES {
        return Err(ApiError::field(
            ErrorKind::Invalid,
            "categories",
            format!("give between 1 and {MAX_CATEGORIES} categories, one a line"),
        ));
    }
    let json = serde_json::to_string(&names).map_err(|_| ApiError::internal())?;
    state()?.store.save_setting(super::CATEGORIES_KEY, &json).await?;
    Ok(names)
}

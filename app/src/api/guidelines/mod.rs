//! Task guidelines: admins write them in Markdown; trainers read them beside the editor.

mod get_guidelines;
mod save_guidelines;

pub use get_guidelines::*;
pub use save_guidelines::*;

/// Longest guidelines accepted, in bytes; longer is refused, not cut.
pub const MAX_GUIDELINES_BYTES: usize = 64 * 1024;

#[cfg(feature = "ssr")]
fn check_area(area: &str) -> Result<(), crate::error::ApiError> {
    if crate::domain::GUIDELINE_AREAS.contains(&area) {
        return Ok(());
    }
    Err(crate::error::ApiError::field(
        crate::error::ErrorKind::Invalid,
        "area",
        format!("unknown area {area:?}; guidelines exist for {}", crate::domain::GUIDELINE_AREAS.join(", ")),
    ))
}

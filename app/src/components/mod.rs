pub mod error_line;
pub mod nav;
pub mod password_field;

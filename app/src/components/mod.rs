pub mod error_line;
pub mod nav;
pub mod new_credentials;

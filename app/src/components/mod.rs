pub mod error_line;
pub mod generation_stream;
pub mod nav;
pub mod new_credentials;

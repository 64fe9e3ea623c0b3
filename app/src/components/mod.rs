pub mod debounce;
pub mod error_line;
pub mod generation_stream;
pub mod guidelines;
pub mod markdown;
pub mod nav;
pub mod new_credentials;
pub mod shortcuts;

mod create_api_key;
mod list_api_keys;
mod revoke_api_key;

pub use create_api_key::*;
pub use list_api_keys::*;
pub use revoke_api_key::*;

/// The prefix of every API key secret, so a leaked one is easy to recognise.
pub const API_KEY_PREFIX: &str = "pk-";
pub const API_KEY_NAME_MAX_CHARS: usize = 100;

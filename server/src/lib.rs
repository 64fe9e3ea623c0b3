//! Parley's server: the adapters behind the app's ports (the sqlx store), the axum router,
//! the model file check and the command line.

// The pages' view types (rendered here) nest deeper than the default limit allows.
#![recursion_limit = "256"]

pub mod bench;
pub mod bench_load;
pub mod cli;
pub mod datasets;
pub mod http;
pub mod model;
pub mod model_file;
pub mod moderation;
pub mod openai;
pub mod reward;
pub mod sampler;
pub mod store;

//! Server functions, one a file, grouped by domain. Each checks the caller's role first.

pub mod auth;
pub mod conversations;
pub mod datasets;
pub mod feedback;
pub mod filter;
pub mod guidelines;
pub mod home;
pub mod keys;
pub mod model;
pub mod rank;
pub mod review;
pub mod reward;
pub mod stats;
pub mod users;

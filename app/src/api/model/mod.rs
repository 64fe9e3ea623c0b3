mod list_models;
mod model_status;
mod set_active_model;

pub use list_models::*;
pub use model_status::*;
pub use set_active_model::*;

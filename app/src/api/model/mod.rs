mod model_status;

pub use model_status::*;

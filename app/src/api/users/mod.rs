mod create_user;
mod list_users;
mod set_role;

pub use create_user::*;
pub use list_users::*;
pub use set_role::*;

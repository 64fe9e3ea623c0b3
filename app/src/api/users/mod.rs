mod create_user;
mod list_users;
mod reset_password;
mod set_active;
mod set_role;

pub use create_user::*;
pub use list_users::*;
pub use reset_password::*;
pub use set_active::*;
pub use set_role::*;

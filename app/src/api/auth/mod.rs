mod change_password;
mod create_first_admin;
mod current_user;
mod login;
mod logout;
mod setup_status;

pub use change_password::*;
pub use create_first_admin::*;
pub use current_user::*;
pub use login::*;
pub use logout::*;
pub use setup_status::*;

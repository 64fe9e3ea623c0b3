mod admin;
mod area;
mod home;
mod login;
mod not_found;
mod setup;
mod write;

pub use admin::{AdminPage, ApiKeysPage, ModelPage};
pub use area::AreaPage;
pub use home::HomePage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use setup::SetupPage;
pub use write::{DemonstrationPage, WritePage};

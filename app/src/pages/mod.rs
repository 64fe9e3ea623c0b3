mod admin;
mod area;
mod chat;
mod home;
mod login;
mod mine;
mod not_found;
mod setup;
mod write;

pub use admin::{AdminPage, ApiKeysPage, GuidelinesPage, ModelPage, short_time};
pub use area::AreaPage;
pub use chat::{ChatPage, ChatStartPage};
pub use home::HomePage;
pub use login::LoginPage;
pub use mine::MyWorkPage;
pub use not_found::NotFound;
pub use setup::SetupPage;
pub use write::{DemonstrationPage, WritePage};

mod account;
mod admin;
mod area;
mod chat;
mod datasets;
mod doubtful;
mod feedback;
mod home;
mod login;
mod mine;
mod not_found;
mod rank;
mod review;
mod setup;
mod stats;
mod write;

pub use account::AccountPage;
pub use admin::{
    AdminPage, ApiKeysPage, ComparisonsPage, FilterPage, GuidelinesPage, ModelPage, RewardPage, short_time,
};
pub use area::AreaPage;
pub use chat::{ChatPage, ChatStartPage};
pub use datasets::DatasetsPage;
pub use doubtful::DoubtfulRankingsPage;
pub use feedback::FeedbackPage;
pub use home::HomePage;
pub use login::LoginPage;
pub use mine::MyWorkPage;
pub use not_found::NotFound;
pub use rank::RankPage;
pub use review::ReviewPage;
pub use setup::SetupPage;
pub use stats::{LeaderboardPage, ProgressPage, StatsPage};
pub use write::{DemonstrationPage, WritePage};

/// The action that starts a conversation and, once it is made, opens it at `<page>/<id>`;
/// and the id its form sends, made once, so a double-clicked start makes one.
pub fn start_conversation(
    page: &'static str,
) -> (leptos::prelude::ServerAction<crate::api::conversations::CreateConversation>, String) {
    use leptos::prelude::*;
    let create = ServerAction::<crate::api::conversations::CreateConversation>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(conversation)) = create.value().get() {
            navigate(&format!("{page}/{}", conversation.id), Default::default());
        }
    });
    (create, uuid::Uuid::new_v4().to_string())
}

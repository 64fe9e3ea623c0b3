use crate::api::auth::{CreateFirstAdmin, Login, Logout, current_user};
use crate::components::nav::Nav;
use crate::domain::User;
use crate::error::ApiError;
use crate::pages::{
    AccountPage, AdminPage, ApiKeysPage, ChatPage, ChatStartPage, ComparisonsPage, DatasetsPage,
    DemonstrationPage, DoubtfulRankingsPage, FeedbackPage, FilterPage, GuidelinesPage, HomePage,
    LeaderboardPage, LoginPage, ModelPage, MyWorkPage, NotFound, ProgressPage, RankPage, ReviewPage,
    RewardPage, SetupPage, StatsPage, WritePage,
};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{StaticSegment, path};

/// Parley's icon: two speech bubbles in the accent colour, as an SVG data URI.
pub const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E\
%3Crect x='2' y='4' width='20' height='14' rx='4' fill='%232f5bd3'/%3E\
%3Cpath d='M7 18v6l6-6z' fill='%232f5bd3'/%3E\
%3Crect x='12' y='12' width='18' height='12' rx='4' fill='%2311a37f'/%3E\
%3Cpath d='M25 24v5l-5-5z' fill='%2311a37f'/%3E%3C/svg%3E";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // The icon travels in the page: no request, no 404.
                <link rel="icon" type="image/svg+xml" href=FAVICON />
                // In the shell, not in the hydrated app: the name comes from the server.
                <link rel="stylesheet" href=style_href() />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The style sheet's address: the server's (a content-hashed name) where it runs, else
/// the name `cargo leptos build` gives it.
fn style_href() -> String {
    #[cfg(feature = "ssr")]
    if let Some(state) = use_context::<crate::ssr::AppState>() {
        return state.style_href.to_string();
    }
    "/pkg/parley.css".to_string()
}

/// Who is signed in, and the actions that change it. The user resource refetches whenever
/// one of the actions completes, so the navigation follows sign-in and sign-out.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<User>, ApiError>>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub setup: ServerAction<CreateFirstAdmin>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let setup = ServerAction::<CreateFirstAdmin>::new();
    let user = Resource::new(
        move || (login.version().get(), logout.version().get(), setup.version().get()),
        |_| current_user(),
    );
    provide_context(Session { user, login, logout, setup });

    // Effects run only in the browser: this marks the moment the page became interactive,
    // which the browser tests wait for before they click.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title text="Parley" />
        <Router>
            <Nav />
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/setup") view=SetupPage />
                    <Route path=path!("/account") view=AccountPage />
                    <Route path=path!("/admin") view=AdminPage />
                    <Route path=path!("/admin/model") view=ModelPage />
                    <Route path=path!("/admin/keys") view=ApiKeysPage />
                    <Route path=path!("/write") view=WritePage />
                    <Route path=path!("/write/:id") view=DemonstrationPage />
                    <Route path=path!("/admin/guidelines") view=GuidelinesPage />
                    <Route path=path!("/chat") view=ChatStartPage />
                    <Route path=path!("/chat/:id") view=ChatPage />
                    <Route path=path!("/mine") view=MyWorkPage />
                    <Route path=path!("/rank") view=RankPage />
                    <Route path=path!("/rank/:id") view=RankPage />
                    <Route path=path!("/admin/comparisons") view=ComparisonsPage />
                    <Route path=path!("/admin/filter") view=FilterPage />
                    <Route path=path!("/admin/reward") view=RewardPage />
                    <Route path=path!("/feedback") view=FeedbackPage />
                    <Route path=path!("/review") view=ReviewPage />
                    <Route path=path!("/review/rankings") view=DoubtfulRankingsPage />
                    <Route path=path!("/datasets") view=DatasetsPage />
                    // Rendered whole before it is sent, so the charts read without JavaScript.
                    <Route path=path!("/stats") view=StatsPage ssr=SsrMode::Async />
                    <Route path=path!("/progress") view=ProgressPage ssr=SsrMode::Async />
                    <Route path=path!("/progress/:id") view=ProgressPage ssr=SsrMode::Async />
                    <Route path=path!("/leaderboard") view=LeaderboardPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
